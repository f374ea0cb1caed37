import type { BackoffOptions } from './backoff.js';
import { compose, type Middleware } from './context.js';
import type { EventContract } from './contract.js';
import { ConfigError } from './errors.js';
import type { Handler, HandlerContext, HandleOptions, HandlerRegistration } from './handler.js';
import { Limiter } from './limiter.js';
import { deadLetter } from './middleware/dead-letter.js';
import { retry } from './middleware/retry.js';
import { timeout } from './middleware/timeout.js';
import { oneOf, wholeNumber } from './option-checks.js';
import type { Route } from './pipeline.js';
import type { Publisher } from './publisher.js';

export interface HandlerDefaults {
  maxAttempts: number;
  concurrency: number;
  backoff: BackoffOptions;
  timeout: number | undefined;
}

export interface RouterOptions {
  /** The group of handlers that name none. */
  group: string;
  defaults: HandlerDefaults;
  /** The bus's own middleware, around every handler inside retry. */
  middleware: readonly Middleware[];
  /** The instrumentation's middleware, outermost. */
  processMiddleware: Middleware | undefined;
  /** Longest delay the transport honours in one step. */
  maxDelayMs: number;
  publisher: Publisher;
  /** Makes a contract decodable by the bus. */
  register(contract: EventContract): void;
}

/** The handlers of one bus, by group and type, each with its middleware chain composed once at `handle()`. */
export class Router {
  readonly registrations: HandlerRegistration[] = [];
  private readonly groups = new Map<string, Map<string, Route>>();

  constructor(private readonly options: RouterOptions) {}

  routesOf(group: string): ReadonlyMap<string, Route> | undefined {
    return this.groups.get(group);
  }

  add<C extends EventContract, TEmits extends readonly EventContract[]>(
    contract: C,
    handleOptions: HandleOptions<TEmits>,
    handler: Handler<C, TEmits[number]>,
  ): HandlerRegistration {
    const { defaults, publisher } = this.options;
    const group = handleOptions.group ?? this.options.group;
    const maxAttempts = wholeNumber('maxAttempts', handleOptions.maxAttempts, defaults.maxAttempts);
    const concurrency = wholeNumber('concurrency', handleOptions.concurrency, defaults.concurrency);
    const timeoutMs = handleOptions.timeout ?? defaults.timeout;
    const emits = handleOptions.emits ?? [];
    const emitTiming = oneOf('emit', handleOptions.emit, ['after-success', 'immediate'], 'after-success');
    this.options.register(contract);
    for (const e of emits) this.options.register(e);
    let routes = this.groups.get(group);
    if (!routes) {
      routes = new Map();
      this.groups.set(group, routes);
    }
    if (routes.has(contract.type)) {
      throw new ConfigError('group', `group "${group}" already has a handler for "${contract.type}"`);
    }
    const registration: HandlerRegistration = {
      name: handleOptions.name ?? `${group}:${contract.type}`,
      contract,
      group,
      emits,
      maxAttempts,
      concurrency,
    };
    const chain = compose(
      [
        ...(this.options.processMiddleware ? [this.options.processMiddleware] : []),
        deadLetter(),
        retry({ maxAttempts, backoff: handleOptions.backoff ?? defaults.backoff, maxDelayMs: this.options.maxDelayMs }),
        // Inside retry, so a failed flush is retried like a failed handler.
        ...(emitTiming === 'after-success' ? [publisher.holdEmits()] : []),
        ...this.options.middleware,
        ...(handleOptions.middleware ?? []),
        ...(timeoutMs === undefined ? [] : [timeout(timeoutMs)]),
      ],
      (ctx) => Promise.resolve(handler(ctx.event as never, ctx as HandlerContext<never>)),
    );
    routes.set(contract.type, {
      registration,
      chain,
      limiter: new Limiter(concurrency),
      emit: publisher.emitterFor(registration, emitTiming),
    });
    this.registrations.push(registration);
    return registration;
  }
}
