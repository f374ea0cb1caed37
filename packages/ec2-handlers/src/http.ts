import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:http';
import { type EventInput, type Publisher, redact } from '@org/eventbus';
import { Ec2LaunchRequested, LaunchInput } from './contracts.js';
import { SharedDeadlines } from './deadlines.js';
import { PAGE_HTML } from './page.js';
import type { RequestStep, RequestStore, RequestSummary } from './request-store.js';
import type { SseHub } from './sse-hub.js';

/**
 * Another way to accept a launch than publishing it: Postgres mode writes the request and its event
 * (to the outbox) in one transaction and answers 202 at the commit, without waiting on the broker.
 */
export interface LaunchIntake {
  /** Resolves once the request can no longer be lost; rejects (503, nothing accepted) otherwise. */
  accept(summary: RequestSummary, data: EventInput<typeof Ec2LaunchRequested>, firstStep: RequestStep): Promise<void>;
}

export interface HttpOptions {
  /** The declared entry point that publishes launch requests (see buildEc2Bus). */
  launches: Publisher<typeof Ec2LaunchRequested>;
  store: RequestStore;
  hub: SseHub;
  /**
   * How long POST waits for the broker's confirmation before answering 503. Default 5 s. Requests
   * share deadlines in slices of 5% of this (see SharedDeadlines), so the wait is up to 5% longer.
   */
  publishTimeoutMs?: number;
  /** Extra facts for GET /v1/health (role, transport, launcher). */
  health?: Record<string, unknown>;
  /** Accept launches through this instead of publishing them (Postgres mode's outbox). */
  intake?: LaunchIntake;
  /** Serves the live event graph (`serveLiveGraph`, GET /events/…); true when it answered. */
  liveGraph?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

const MAX_BODY = 64 * 1024;
const LAUNCH_PATH = '/v1/ec2/instances';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{1,64}$/;

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.pause();
        reject(new Error(`body larger than ${MAX_BODY} bytes`));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The 202 API. POST publishes ec2.launch.requested and answers only after the broker confirmed it:
 * a publish that failed or timed out is a 503, never a 202 for work that was lost.
 */
export function createHttpServer(options: HttpOptions): Server {
  const { launches, store, hub } = options;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
  const deadlines = new SharedDeadlines(publishTimeoutMs, () => new Error(`no confirmation within ${publishTimeoutMs} ms`));

  async function launch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text: string;
    try {
      text = await readBody(req);
    } catch (error) {
      // Answer first, then drop the connection rather than read the rest of an oversized body.
      res.once('finish', () => req.destroy());
      return json(res, 413, { error: 'request too large', detail: errorMessage(error) }, { connection: 'close' });
    }
    let body: unknown;
    try {
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      return json(res, 400, { error: 'invalid request', issues: [{ path: '', message: `body is not JSON: ${errorMessage(error)}` }] });
    }
    const parsed = LaunchInput.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
      return json(res, 400, { error: 'invalid request', issues });
    }
    // A client that may retry sends an Idempotency-Key: the same key is the same request id, event id
    // and ClientToken, so a retried POST never launches a second machine.
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      return json(res, 400, { error: 'invalid request', issues: [{ path: 'Idempotency-Key', message: 'must be 1-64 letters, digits, "-" or "_"' }] });
    }
    const requestId = key ?? randomUUID();
    if (key !== undefined && (await store.get(requestId))?.request) return accepted(res, requestId);
    const input = parsed.data;
    const createdAt = new Date().toISOString();
    if (options.intake) {
      const summary = { requestId, userId: input.userId, imageId: input.imageId, instanceType: input.instanceType, createdAt };
      try {
        await options.intake.accept(summary, { ...input, requestId }, { type: Ec2LaunchRequested.type, eventId: requestId, at: createdAt });
      } catch (error) {
        return json(res, 503, { error: 'the request could not be recorded; nothing was started, try again', detail: redact(errorMessage(error)) }, { 'retry-after': '2' });
      }
      return accepted(res, requestId);
    }
    try {
      await store.create({ requestId, userId: input.userId, imageId: input.imageId, instanceType: input.instanceType, createdAt });
    } catch (error) {
      // Without a record nobody could answer for the request: accept nothing rather than lose track.
      return json(res, 503, { error: 'the request store is unavailable; nothing was started, try again', detail: redact(errorMessage(error)) }, { 'retry-after': '2' });
    }
    try {
      // The request id is the event id, and so the ClientToken EC2 deduplicates on.
      await launches.publish(Ec2LaunchRequested, { ...input, requestId }, { id: requestId, subject: requestId, signal: deadlines.signal() });
    } catch (error) {
      await store.remove(requestId).catch(() => {});
      return json(
        res,
        503,
        {
          error: 'the event broker did not confirm the launch request, so it was not accepted; retry it (with the same Idempotency-Key to be safe)',
          detail: redact(errorMessage(error)),
        },
        { 'retry-after': '2' },
      );
    }
    // The event is in the broker now: whatever happens next, the answer is 202. The step is a nicety
    // for GET, so the answer does not wait for it: with a Redis store it is a round trip, and the record
    // it belongs to was written (and awaited) before the publish.
    store.addStep(requestId, { type: Ec2LaunchRequested.type, eventId: requestId, at: createdAt }).catch(() => {});
    accepted(res, requestId);
  }

  function accepted(res: ServerResponse, requestId: string): void {
    const statusUrl = `/v1/requests/${requestId}`;
    json(res, 202, { requestId, statusUrl }, { location: statusUrl });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The hot route without a URL parse (a WHATWG URL per POST was a visible cost at 1,000/s).
    if (req.method === 'POST' && (req.url === LAUNCH_PATH || req.url?.startsWith(`${LAUNCH_PATH}?`))) return launch(req, res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'POST' && path === LAUNCH_PATH) return launch(req, res);
    if (req.method === 'GET' && path.startsWith('/v1/requests/')) {
      const record = await store.get(decodeURIComponent(path.slice('/v1/requests/'.length)));
      return record ? json(res, 200, record) : json(res, 404, { error: 'no such request' });
    }
    if (req.method === 'GET' && path === '/v1/notifications') {
      const userId = url.searchParams.get('userId') ?? undefined;
      if ((req.headers.accept ?? '').includes('application/json')) {
        return json(res, 200, { notifications: userId ? await store.notifications(userId) : [] });
      }
      return hub.attach(res, userId);
    }
    if (req.method === 'GET' && path === '/v1/health') return json(res, 200, { ok: true, ...options.health });
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(PAGE_HTML) });
      return void res.end(PAGE_HTML);
    }
    if (options.liveGraph?.(req, res)) return;
    json(res, 404, { error: `no route for ${req.method} ${path}` });
  }

  return createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: 'internal error', detail: redact(errorMessage(error)) });
      else res.end();
    });
  });
}
