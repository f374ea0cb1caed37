import { ConfigError, TransportError } from '../errors.js';
import { positiveNumber, wholeNumber } from '../option-checks.js';
import type { DeadLetterAction, ReceivedMessage, Transport } from '../transport.js';
import { type DeadLetter, type DeadLetterFilter, matches, readDeadLetter, redriveHeaders } from './dead-letter.js';

export interface ListOptions {
  /** At most this many (default 100). */
  limit?: number;
}

export interface MoveOptions {
  /** Only say what would be done: nothing is moved or removed. */
  dryRun?: boolean;
  /** At most this many. */
  max?: number;
}

export interface RedriveOptions extends MoveOptions {
  /** Dead letters sent back per second, at most (default 50): a redrive must not flood the group it feeds. */
  ratePerSecond?: number;
}

/** What a redrive or purge did (or, on a dry run, would do). */
export interface MoveResult {
  readonly count: number;
  readonly ids: readonly string[];
  readonly dryRun: boolean;
}

/** The dead letters of one group, on any transport that can scan them (the `eventbus dead-letters` CLI's library). */
export interface DeadLetters {
  readonly group: string;
  list(filter?: DeadLetterFilter, options?: ListOptions): Promise<DeadLetter[]>;
  /** One dead letter by event id, or undefined. */
  show(id: string): Promise<DeadLetter | undefined>;
  /** Send the matching dead letters back to the group (that group only), intact, as new deliveries (attempt 1). */
  redrive(filter?: DeadLetterFilter, options?: RedriveOptions): Promise<MoveResult>;
  /** Remove the matching dead letters for good. */
  purge(filter?: DeadLetterFilter, options?: MoveOptions): Promise<MoveResult>;
}

const KEEP: DeadLetterAction = { action: 'keep' };

/**
 * The dead letters of `group` on `transport`. Works on every transport that implements
 * `scanDeadLetters`; otherwise throws a ConfigError that names the transport.
 */
export function deadLetters(transport: Transport, group: string): DeadLetters {
  if (!transport.scanDeadLetters) throw new ConfigError('transport', `the ${transport.name} transport cannot list or move dead letters (it has no scanDeadLetters)`);
  if (!group) throw new ConfigError('group', 'is required: dead letters are kept per consumer group');
  const scan: NonNullable<Transport['scanDeadLetters']> = transport.scanDeadLetters.bind(transport);
  const encoding = transport.capabilities.encoding;
  const read = (message: ReceivedMessage) => readDeadLetter(message, group, encoding);

  async function move(filter: DeadLetterFilter, options: RedriveOptions, kind: 'redrive' | 'purge'): Promise<MoveResult> {
    const max = wholeNumber('max', options.max, Number.MAX_SAFE_INTEGER);
    const rate = kind === 'redrive' ? positiveNumber('ratePerSecond', options.ratePerSecond, 50) : Number.POSITIVE_INFINITY;
    const dryRun = options.dryRun === true;
    const ids: string[] = [];
    let next = Date.now();
    await scan(group, async (message) => {
      if (ids.length >= max) return KEEP;
      const letter = read(message);
      if (!matches(letter, filter)) return KEEP;
      ids.push(letter.id);
      if (dryRun) return KEEP;
      if (kind === 'purge') return { action: 'purge' };
      // Paced: each redrive waits for its slot, so `rate` per second at most.
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      next = Math.max(next, Date.now()) + 1000 / rate;
      return { action: 'redrive', headers: redriveHeaders(message) };
    });
    return { count: ids.length, ids, dryRun };
  }

  return {
    group,
    async list(filter = {}, options = {}) {
      const limit = wholeNumber('limit', options.limit, 100);
      const found: DeadLetter[] = [];
      await scan(group, (message) => {
        if (found.length < limit) {
          const letter = read(message);
          if (matches(letter, filter)) found.push(letter);
        }
        return KEEP;
      });
      return found;
    },
    async show(id) {
      let found: DeadLetter | undefined;
      await scan(group, (message) => {
        if (!found) {
          const letter = read(message);
          if (letter.id === id) found = letter;
        }
        return KEEP;
      });
      return found;
    },
    redrive: (filter = {}, options = {}) => move(filter, options, 'redrive'),
    purge: (filter = {}, options = {}) => move(filter, options, 'purge'),
  };
}

/** For adapters: the error a scan throws when the group has no dead-letter destination to read. */
export function noDeadLetterQueue(transport: string, group: string, where: string): TransportError {
  return new TransportError(`${transport}: group "${group}" has no dead letters to scan: ${where} does not exist (is the group name right?)`);
}
