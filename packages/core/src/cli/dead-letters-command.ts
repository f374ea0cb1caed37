import { parseArgs } from 'node:util';
import { transportFromUrl } from '../create-transport.js';
import type { DeadLetter, DeadLetterFilter } from '../dead-letters/dead-letter.js';
import { deadLetters } from '../dead-letters/dead-letters.js';
import { errorMessage } from '../errors.js';
import { redact } from '../redact.js';
import type { Transport } from '../transport.js';
import type { Command, CommandIo } from './command.js';

const NAME = 'eventbus dead-letters';

export const DEAD_LETTERS_USAGE = `Usage: ${NAME} <list|show|redrive|purge> --group <group> [options]   (alias: eventbus dlq)

Reads the same broker as the application: --url, else $EVENTBUS_URL. Works on every transport.

  list        the group's dead letters, oldest first: id, type, age, attempts, reason
  show <id>   one dead letter whole: reason, headers and the event
  redrive     send dead letters back to the group (that group only), the event intact, as new
              deliveries (attempt 1, the dead-letter headers removed)
  purge       remove dead letters for good

Select (every condition given must hold):
  --id <id>             an event id (repeatable)
  --type <type>         an event type (repeatable)
  --reason <text>       the reason contains this text (any case)
  --older-than <age>    dead-lettered at least this long ago: 30s, 10m, 2h, 7d
  --newer-than <age>    dead-lettered at most this long ago
  --all                 redrive or purge every dead letter of the group (required when nothing else selects)
Other:
  --limit <n>           list at most n (default 100)
  --max <n>             redrive or purge at most n
  --rate <n>            redrive at most n per second (default 50)
  --dry-run             say what redrive or purge would take; change nothing
  --json                one JSON document on stdout, for scripts
  --url <url>           the broker (default $EVENTBUS_URL)

Exit status: 0 done, 1 the broker refused or the id was not found, 2 a usage mistake.`;

const OPTIONS = {
  group: { type: 'string' },
  url: { type: 'string' },
  id: { type: 'string', multiple: true },
  type: { type: 'string', multiple: true },
  reason: { type: 'string' },
  'older-than': { type: 'string' },
  'newer-than': { type: 'string' },
  all: { type: 'boolean' },
  limit: { type: 'string' },
  max: { type: 'string' },
  rate: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `10m`, `2h`, `7d`, `500ms` → milliseconds; undefined when it is not one. */
export function parseAge(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  return match ? Number(match[1]) * UNITS[match[2]!]! : undefined;
}

class UsageMistake extends Error {}

function filterFrom(values: ReturnType<typeof parse>['values']): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  if (values.id) filter.ids = values.id;
  if (values.type) filter.types = values.type;
  if (values.reason !== undefined) filter.reason = values.reason;
  for (const [option, key] of [['older-than', 'olderThanMs'], ['newer-than', 'newerThanMs']] as const) {
    const text = values[option];
    if (text === undefined) continue;
    const ms = parseAge(text);
    if (ms === undefined) throw new UsageMistake(`--${option} must be an age such as 30s, 10m, 2h or 7d (got "${text}")`);
    filter[key] = ms;
  }
  return filter;
}

function count(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageMistake(`--${option} must be a positive number (got "${text}")`);
  return n;
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
}

function age(letter: DeadLetter, now: number): string {
  if (!letter.deadLetteredAt) return '?';
  const s = Math.max(0, Math.round((now - letter.deadLetteredAt.getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}

/** What `--json` prints for one dead letter (the body as the event, or as text when it does not decode). */
function asJson(letter: DeadLetter) {
  return {
    id: letter.id,
    type: letter.type,
    channel: letter.channel,
    group: letter.group,
    reason: letter.reason,
    attempts: letter.attempts,
    deadLetteredAt: letter.deadLetteredAt?.toISOString() ?? null,
    event: letter.event ?? null,
    ...(letter.decodeError ? { decodeError: letter.decodeError, body: Buffer.from(letter.message.body).toString('utf8') } : {}),
    headers: letter.message.headers,
  };
}

async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const mistake = (problem: string) => {
    io.err(`${NAME}: ${problem} (${NAME} --help shows the usage)`);
    return 2;
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return mistake(errorMessage(error).split('. ')[0] ?? 'bad arguments');
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(DEAD_LETTERS_USAGE);
    return 0;
  }
  const [action, ...rest] = positionals;
  if (action === undefined || !['list', 'show', 'redrive', 'purge'].includes(action)) {
    return mistake(action === undefined ? 'which action? list, show, redrive or purge' : `unknown action "${action}": list, show, redrive or purge`);
  }
  if (action === 'show' ? rest.length !== 1 : rest.length > 0) {
    return mistake(action === 'show' ? 'show needs one event id: show <id>' : `unexpected argument "${rest[0]}"`);
  }
  if (!values.group) return mistake('--group <group> is required: dead letters are kept per consumer group');
  const url = values.url ?? io.env.EVENTBUS_URL;
  if (!url) return mistake('no broker: pass --url or set EVENTBUS_URL');
  let filter: DeadLetterFilter;
  let limits: { limit?: number; max?: number; rate?: number };
  try {
    filter = filterFrom(values);
    limits = { limit: count('limit', values.limit), max: count('max', values.max), rate: count('rate', values.rate) };
  } catch (error) {
    if (error instanceof UsageMistake) return mistake(error.message);
    throw error;
  }
  if ((action === 'redrive' || action === 'purge') && !values.all && Object.keys(filter).length === 0) {
    return mistake(`${action} takes every dead letter of the group only with --all; or select with --id, --type, --reason, --older-than or --newer-than`);
  }
  const transport: Transport = await (io.transportFor ?? ((u: string) => transportFromUrl(u, {}, io.cwd ?? process.cwd())))(url);
  try {
    const letters = deadLetters(transport, values.group);
    const now = Date.now();
    if (action === 'list') {
      const found = await letters.list(filter, limits.limit === undefined ? {} : { limit: limits.limit });
      if (values.json) io.out(JSON.stringify(found.map(asJson), null, 2));
      else if (found.length === 0) io.out(`no dead letters in group "${values.group}"${Object.keys(filter).length ? ' match' : ''}`);
      else for (const l of found) io.out(`${l.id}  ${l.type}  ${age(l, now)} ago  attempts ${l.attempts}  ${l.reason}`);
      return 0;
    }
    if (action === 'show') {
      const letter = await letters.show(rest[0]!);
      if (!letter) {
        io.err(`${NAME}: no dead letter with id "${rest[0]}" in group "${values.group}"`);
        return 1;
      }
      io.out(JSON.stringify(asJson(letter), null, 2));
      return 0;
    }
    const options = { dryRun: values['dry-run'] === true, ...(limits.max ? { max: limits.max } : {}) };
    const result =
      action === 'redrive'
        ? await letters.redrive(filter, { ...options, ...(limits.rate ? { ratePerSecond: limits.rate } : {}) })
        : await letters.purge(filter, options);
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else {
      const verb = action === 'redrive' ? (result.dryRun ? 'would redrive' : 'redrove') : result.dryRun ? 'would purge' : 'purged';
      const where = action === 'redrive' ? ' back to its queue' : '';
      io.out(`${verb} ${result.count} dead letter(s) of group "${values.group}"${where}${result.ids.length ? `: ${result.ids.join(', ')}` : ''}`);
    }
    return 0;
  } catch (error) {
    io.err(redact(`${NAME}: ${action} failed on ${transport.name}: ${errorMessage(error)}`));
    return 1;
  } finally {
    await transport.close().catch(() => {});
  }
}

export const deadLettersCommand: Command = {
  name: 'dead-letters',
  aliases: ['dlq'],
  summary: "list, show, redrive or purge a group's dead letters on any broker (alias: dlq)",
  run,
};
