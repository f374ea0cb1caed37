/** Where a request stands, as GET /v1/requests/:id reports it. */
export type RequestStatus = 'accepted' | 'launching' | 'waiting' | 'launched' | 'failed';

/** The step a launch handler records when EC2 throttled it and it waits (`ctx.retryAfter`) until `until`. */
export const WAITING_STEP = 'launch.waiting';

/** One link of the chain so far: an event (or the worker picking the request up). */
export interface RequestStep {
  /** The event type, or "launch.started" when a worker began an attempt. */
  type: string;
  eventId: string;
  at: string;
  detail?: string;
  /** For a waiting step: the time (ISO) the launch is tried again. */
  until?: string;
}

export interface RequestSummary {
  requestId: string;
  userId: string;
  imageId: string;
  instanceType: string;
  createdAt: string;
}

export interface Notification {
  notificationId: string;
  requestId: string;
  userId: string;
  level: 'success' | 'error';
  message: string;
  instanceIds: string[];
  createdAt: string;
}

export interface RequestRecord {
  requestId: string;
  status: RequestStatus;
  /** With status "waiting": when the launch is tried again (ISO). */
  waitingUntil?: string;
  /** What was asked; absent when this store only saw later steps (another API container took the POST). */
  request?: RequestSummary;
  instanceIds: string[];
  chain: RequestStep[];
  notification?: Notification;
}

/**
 * The state behind GET /v1/requests/:id. Memory by default; Redis so any API container can answer
 * for a request another one accepted. Steps are keyed, so a redelivered event is recorded once.
 */
export interface RequestStore {
  create(request: RequestSummary): Promise<void>;
  /** Forget a request whose event never reached the broker (the API answered 503). */
  remove(requestId: string): Promise<void>;
  addStep(requestId: string, step: RequestStep, instanceIds?: string[]): Promise<void>;
  addNotification(notification: Notification): Promise<void>;
  get(requestId: string): Promise<RequestRecord | undefined>;
  /** The user's latest notifications, newest first. */
  notifications(userId: string, limit?: number): Promise<Notification[]>;
  close(): Promise<void>;
}

const RANK: Record<RequestStatus, number> = { accepted: 0, launching: 1, waiting: 1, launched: 2, failed: 2 };

/** The status a chain has reached: the furthest step wins, whatever order the steps arrived in. */
export function statusOf(chain: readonly RequestStep[]): RequestStatus {
  let status: RequestStatus = 'accepted';
  for (const step of chain) {
    const s = STEP_STATUS[step.type];
    if (s && RANK[s] > RANK[status]) status = s;
  }
  return status;
}

const STEP_STATUS: Record<string, RequestStatus> = {
  'ec2.launch.requested': 'accepted',
  'launch.started': 'launching',
  [WAITING_STEP]: 'launching',
  'ec2.instance.launched': 'launched',
  'ec2.launch.failed': 'failed',
};

/**
 * Status and, while the launch waits out a throttle, until when: "waiting" while the latest step is a
 * waiting one whose time has not come (after it the retry is launching again). `chain` sorted by time.
 */
export function chainState(chain: readonly RequestStep[], now = Date.now()): { status: RequestStatus; waitingUntil?: string } {
  const status = statusOf(chain);
  const last = chain[chain.length - 1];
  if (RANK[status] < 2 && last?.type === WAITING_STEP && last.until !== undefined && Date.parse(last.until) > now) {
    return { status: 'waiting', waitingUntil: last.until };
  }
  return { status };
}

export const stepKey = (step: RequestStep) => `${step.type}:${step.eventId}`;

export function sortChain(chain: RequestStep[]): RequestStep[] {
  return chain.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/**
 * One request's state. Kept small: every accepted POST adds one, and at 1,000 requests/s the young
 * generation's collector copies each into the old generation, so the objects per entry are pause time
 * (the steps of a chain are a handful: an array scan finds a duplicate; created with the first step).
 */
interface Entry {
  request?: RequestSummary;
  steps?: RequestStep[];
  instanceIds?: string[];
  notification?: Notification;
}

/** One process's request state; entries past `maxRequests` are forgotten oldest first. */
export class MemoryRequestStore implements RequestStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Notification[]>();

  constructor(private readonly maxRequests = 100_000) {}

  private entry(requestId: string): Entry {
    let e = this.entries.get(requestId);
    if (!e) {
      e = {};
      this.entries.set(requestId, e);
      if (this.entries.size > this.maxRequests) this.entries.delete(this.entries.keys().next().value as string);
    }
    return e;
  }

  async create(request: RequestSummary): Promise<void> {
    this.entry(request.requestId).request = request;
  }

  async remove(requestId: string): Promise<void> {
    this.entries.delete(requestId);
  }

  async addStep(requestId: string, step: RequestStep, instanceIds?: string[]): Promise<void> {
    const e = this.entry(requestId);
    if (!e.steps) e.steps = [step];
    else if (!e.steps.some((s) => s.type === step.type && s.eventId === step.eventId)) e.steps.push(step);
    if (instanceIds && instanceIds.length > 0) e.instanceIds = instanceIds;
  }

  async addNotification(n: Notification): Promise<void> {
    const e = this.entry(n.requestId);
    if (e.notification?.notificationId === n.notificationId) return;
    e.notification = n;
    const list = this.byUser.get(n.userId) ?? [];
    list.unshift(n);
    if (list.length > 100) list.length = 100;
    this.byUser.set(n.userId, list);
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const e = this.entries.get(requestId);
    if (!e) return undefined;
    const chain = sortChain(e.steps ? [...e.steps] : []);
    return {
      requestId,
      ...chainState(chain),
      ...(e.request ? { request: e.request } : {}),
      instanceIds: e.instanceIds ?? [],
      chain,
      ...(e.notification ? { notification: e.notification } : {}),
    };
  }

  async notifications(userId: string, limit = 50): Promise<Notification[]> {
    return (this.byUser.get(userId) ?? []).slice(0, limit);
  }

  async close(): Promise<void> {}
}
