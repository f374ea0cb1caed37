/**
 * The event graph page served by a running service, with the live counts on it:
 *
 *     const stats = new LiveStats();
 *     const bus = createEventBus({ transport, source, instrumentation: stats.instrumentation() });
 *     const liveGraph = serveLiveGraph({ app: bus, stats, title: 'Orders' });
 *     createServer((req, res) => { if (!liveGraph(req, res)) notFound(res); });
 *
 * Routes (under `prefix`, default `/events`):
 * - `GET /events/` the generated page (the same as `eventbus docs` writes), told by a
 *   `<meta name="eventbus-live">` where to poll, so it shows rates, in flight, retries and dead letters;
 * - `GET /events/live.json` the `LiveStats` snapshot (the page polls it each second);
 * - `GET /events/dead-letters/<id>` one kept dead letter: id, type, group, reason, time, data.
 * The same file opened from disk has no such meta and stays the static graph.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../bus.js';
import { renderHtml } from '../docs/html.js';
import { documentGraph } from '../docs/model.js';
import { buildEventGraph } from '../graph/build.js';
import { describeApp } from '../graph/describe-app.js';
import type { EventRegistry } from '../graph/registry.js';
import type { LiveStats } from './live-stats.js';

export interface LiveGraphOptions {
  /** The bus (its handlers and declared publishers are the graph) or a registry. */
  app: EventBus | EventRegistry;
  stats: LiveStats;
  title?: string;
  /** Where the page lives. Default `/events`. */
  prefix?: string;
}

/** A node:http request handler: answers and returns true for its routes, returns false for any other. */
export function serveLiveGraph(options: LiveGraphOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const prefix = (options.prefix ?? '/events').replace(/\/+$/, '');
  let page: string | undefined;
  // Built on the first request, not here: handlers are registered after the bus is created.
  const html = () => {
    page ??= renderHtml(documentGraph(buildEventGraph(describeApp(options.app, options.title ? { title: options.title } : {}))), { liveUrl: 'live.json' });
    return page;
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === prefix) {
      res.writeHead(301, { location: `${prefix}/` });
      res.end();
      return true;
    }
    if (!path.startsWith(`${prefix}/`)) return false;
    const rest = path.slice(prefix.length + 1);
    if (rest === '' || rest === 'index.html') {
      send(res, 200, 'text/html; charset=utf-8', html());
      return true;
    }
    if (rest === 'live.json') {
      send(res, 200, 'application/json; charset=utf-8', JSON.stringify(options.stats.snapshot()));
      return true;
    }
    if (rest.startsWith('dead-letters/')) {
      const record = options.stats.deadLetter(decodeURIComponent(rest.slice('dead-letters/'.length)));
      const body = record ?? { error: 'no such dead letter (only the newest are kept, in this process)' };
      send(res, record ? 200 : 404, 'application/json; charset=utf-8', JSON.stringify(body, null, 2));
      return true;
    }
    return false;
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
