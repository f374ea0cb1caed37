import { compose, type Middleware } from '../context.js';
import type { Instrumentation, PublishScope, ReceiveScope, SendScope } from '../tracing/hooks.js';

/**
 * Several instrumentations as one (what `createEventBus({ instrumentation: [a, b] })` does). The
 * first in the list is the outermost: its `process` middleware runs around the next one's, and its
 * `send` scope's envelope options (e.g. the send span's `traceparent`) are what the next one sees.
 * So `[tracing(…), createMetrics(…)]` lets metrics record inside the spans (exemplars).
 */
export function combineInstrumentation(list: readonly Instrumentation[]): Instrumentation | undefined {
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const senders = list.filter((i) => i.send);
  const publishers = list.filter((i) => i.publish);
  const receivers = list.filter((i) => i.receive);
  const processors = list.filter((i) => i.process);
  const combined: Instrumentation = {
    attach(bus) {
      for (const i of list) i.attach?.(bus);
    },
  };
  if (processors.length > 0) {
    combined.process = (info) => {
      const middleware: Middleware[] = processors.flatMap((i) => (i.process ? [i.process(info)] : []));
      return (next) => compose(middleware, next);
    };
  }
  if (senders.length > 0) {
    combined.send = (info) => {
      const scopes: SendScope[] = [];
      let options = info.options;
      for (const i of senders) {
        const scope = i.send?.({ ...info, options });
        if (!scope) continue;
        scopes.push(scope);
        options = scope.options;
      }
      // Inner scopes end first, as nested spans do.
      return { options, end: (outcome) => endAll(scopes, outcome) };
    };
  }
  if (publishers.length > 0) {
    combined.publish = (info) => {
      const scopes = publishers.flatMap((i) => (i.publish ? [i.publish(info)] : []));
      return { end: (outcome) => endAll<PublishScope, Parameters<PublishScope['end']>[0]>(scopes, outcome) };
    };
  }
  if (receivers.length > 0) {
    combined.receive = (info) => {
      const scopes = receivers.flatMap((i) => (i.receive ? [i.receive(info)] : []));
      return { end: (outcome) => endAll<ReceiveScope, Parameters<ReceiveScope['end']>[0]>(scopes, outcome) };
    };
  }
  return combined;
}

function endAll<S extends { end(outcome: O): void }, O>(scopes: readonly S[], outcome: O): void {
  for (let i = scopes.length - 1; i >= 0; i--) scopes[i]?.end(outcome);
}
