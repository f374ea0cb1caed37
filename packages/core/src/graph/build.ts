import type { EventContract } from '../contract.js';
import { findCycles } from './cycles.js';
import type { EventGraph, EventNode, Finding, HandlerNode, PublisherNode } from './model.js';
import { type EventRef, type EventRegistry, typeOf } from './registry.js';

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortedUnique = (values: Iterable<string>) => [...new Set(values)].sort(byText);

/** Build the event graph from declarations alone, with its findings. Deterministic for equal input. */
export function buildEventGraph(registry: EventRegistry): EventGraph {
  const contracts = new Map<string, EventContract>(registry.contracts.map((c) => [c.type, c]));
  const handlers: HandlerNode[] = registry.handlers
    .map((h) => ({
      name: h.name,
      group: h.group,
      on: typeOf(h.on),
      emits: sortedUnique(h.emits.map(typeOf)),
      ...(h.description === undefined ? {} : { description: h.description }),
    }))
    .sort((a, b) => byText(a.group, b.group) || byText(a.name, b.name));
  const publishers: PublisherNode[] = registry.publishers
    .map((p) => ({
      name: p.name,
      publishes: sortedUnique(p.publishes.map(typeOf)),
      ...(p.description === undefined ? {} : { description: p.description }),
    }))
    .sort((a, b) => byText(a.name, b.name));

  const types = sortedUnique([
    ...contracts.keys(),
    ...handlers.flatMap((h) => [h.on, ...h.emits]),
    ...publishers.flatMap((p) => p.publishes),
  ]);
  const events: EventNode[] = types.map((type) => {
    const consumers = handlers.filter((h) => h.on === type);
    const emitters = handlers.filter((h) => h.emits.includes(type));
    const contract = contracts.get(type);
    return {
      type,
      ...(contract ? { contract } : {}),
      publishers: publishers.filter((p) => p.publishes.includes(type)).map((p) => p.name),
      emittedBy: emitters.map((h) => h.name),
      consumers: consumers.map((h) => h.name),
      leadsTo: sortedUnique(consumers.flatMap((h) => h.emits)),
      causedBy: sortedUnique(emitters.map((h) => h.on)),
    };
  });

  return {
    title: registry.title,
    ...(registry.description === undefined ? {} : { description: registry.description }),
    ...(registry.version === undefined ? {} : { version: registry.version }),
    events,
    handlers,
    publishers,
    findings: findingsOf(events, registry),
  };
}

function findingsOf(events: EventNode[], registry: EventRegistry): Finding[] {
  const findings: Finding[] = [];
  const stringRefs = (refs: readonly EventRef[]) => refs.filter((r): r is string => typeof r === 'string');
  for (const event of events) {
    if (event.contract) continue;
    const emitters = [
      ...registry.handlers.filter((h) => stringRefs(h.emits).includes(event.type)).map((h) => `handler "${h.name}"`),
      ...registry.publishers.filter((p) => stringRefs(p.publishes).includes(event.type)).map((p) => `publisher "${p.name}"`),
    ].sort(byText);
    if (emitters.length > 0) {
      findings.push({
        severity: 'error',
        code: 'emit-without-contract',
        subject: event.type,
        message: `${emitters.join(', ')} emit${emitters.length === 1 ? 's' : ''} "${event.type}", which has no contract`,
      });
    }
    if (event.consumers.length > 0) {
      findings.push({
        severity: 'error',
        code: 'missing-contract',
        subject: event.type,
        message: `handler${event.consumers.length === 1 ? '' : 's'} ${event.consumers.map((c) => `"${c}"`).join(', ')} consume "${event.type}", which has no contract`,
      });
    }
  }
  for (const event of events) {
    const produced = event.publishers.length + event.emittedBy.length > 0;
    if (event.consumers.length === 0) {
      findings.push({
        severity: 'warning',
        code: 'unhandled-event',
        subject: event.type,
        message: produced ? `"${event.type}" is produced but no handler consumes it` : `"${event.type}" has a contract but nobody produces or handles it`,
      });
    } else if (!produced) {
      findings.push({
        severity: 'warning',
        code: 'unproduced-event',
        subject: event.type,
        message: `${event.consumers.map((c) => `"${c}"`).join(', ')} handle${event.consumers.length === 1 ? 's' : ''} "${event.type}", which no publisher or handler produces (declare its entry point with declarePublisher)`,
      });
    }
  }
  const next = new Map(events.map((e) => [e.type, e.leadsTo]));
  for (const path of findCycles(events.map((e) => e.type), (type) => next.get(type) ?? [])) {
    findings.push({
      severity: 'warning',
      code: 'cycle',
      subject: path[0] as string,
      message: `a cycle: ${path.join(' → ')} (fine if meant, e.g. a bounded retry loop; make sure it ends)`,
      path,
    });
  }
  const rank = { error: 0, warning: 1 } as const;
  return findings.sort((a, b) => rank[a.severity] - rank[b.severity] || byText(a.code, b.code) || byText(a.subject, b.subject));
}
