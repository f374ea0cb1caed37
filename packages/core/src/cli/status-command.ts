import { transportFromUrl } from '../create-transport.js';
import { errorMessage } from '../errors.js';
import { registryFromModule } from '../graph/describe-app.js';
import { redact } from '../redact.js';
import type { Backlog, DeadLetterAction, Transport } from '../transport.js';
import { type Command, type CommandIo, parseCommandLine } from './command.js';
import { loadEntry } from './entry.js';

export const STATUS_USAGE = `Usage: eventbus status (--entry <module> [--export <name>] | --group <group> ...) [--url <broker url>] [--json]

Prints, per consumer group, what the broker holds for it: the backlog (events kept for the group and
not yet settled — waiting, held for a retry, and in flight where the broker counts those — with the
oldest one's age where the broker knows it), how many of those are in flight (handed to a consumer,
not yet settled) where the broker tells it, and the dead letters (counted by a scan that keeps every
one: nothing is moved). Groups come from the module's handlers (loaded as for \`eventbus provision\`)
or from --group, which may be repeated.

  --url    the broker (default: $EVENTBUS_URL), e.g. amqp://user:pass@host:5672
  --json   one JSON array, an object per group: { group, backlog: { messages, oldestAgeMs?, inFlight? } | null,
           deadLetters: number | null } (null: the transport cannot tell)`;

/** One group's line of the report; null where the transport cannot tell. */
export interface GroupStatus {
  group: string;
  backlog: Backlog | null;
  deadLetters: number | null;
}

const KEEP: DeadLetterAction = { action: 'keep' };

/** What the broker tells of one group: its backlog and how many dead letters it has. */
export async function groupStatus(transport: Transport, group: string): Promise<GroupStatus> {
  const backlog = transport.backlog ? await transport.backlog(group) : null;
  let deadLetters: number | null = null;
  if (transport.scanDeadLetters) {
    let count = 0;
    await transport.scanDeadLetters(group, () => {
      count++;
      return KEEP;
    });
    deadLetters = count;
  }
  return { group, backlog, deadLetters };
}

function age(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${Math.round(ms / 3_600_000)}h`;
}

function line({ group, backlog, deadLetters }: GroupStatus): string {
  const waiting =
    backlog === null ? 'backlog unknown' : `backlog ${backlog.messages}${backlog.oldestAgeMs === undefined ? '' : ` (oldest ${age(backlog.oldestAgeMs)})`}`;
  const inFlight = backlog?.inFlight === undefined ? 'in flight unknown' : `in flight ${backlog.inFlight}`;
  return `${group}  ${waiting}  ${inFlight}  ${deadLetters === null ? 'dead letters unknown' : `dead letters ${deadLetters}`}`;
}

/** Groups of the module's handlers, in the order they are first met. */
async function groupsOf(entry: string, exportName: string | undefined, io: CommandIo): Promise<string[]> {
  const registry = await registryFromModule(await loadEntry(entry, io.cwd), {}, exportName);
  return [...new Set(registry.handlers.map((h) => h.group))];
}

/** `eventbus status`: exit code 0 when every group was read, 1 when the broker failed, 2 on bad usage. */
async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandLine('status', STATUS_USAGE, argv, {
        entry: { type: 'string' },
        export: { type: 'string' },
        url: { type: 'string' },
        group: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
  }, io);
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const url = values.url ?? io.env.EVENTBUS_URL;
  const problem =
    values.entry && values.group ? 'pass --entry or --group, not both' : !values.entry && !values.group ? '--entry or --group is required' : !url ? 'no broker: pass --url or set EVENTBUS_URL' : undefined;
  if (problem || !url) {
    io.err(`eventbus status: ${problem}\n\n${STATUS_USAGE}`);
    return 2;
  }
  const groups = values.entry ? await groupsOf(values.entry, values.export, io) : [...new Set(values.group)];
  if (groups.length === 0) {
    io.out(`eventbus status: ${values.entry} declares no handlers; no groups to report.`);
    return 0;
  }
  const transport = await (io.transportFor ?? ((u: string) => transportFromUrl(u, {}, io.cwd ?? process.cwd())))(url);
  const report: GroupStatus[] = [];
  try {
    await transport.connect();
    for (const group of groups) report.push(await groupStatus(transport, group));
  } catch (error) {
    io.err(`eventbus status: ${transport.name} at ${redact(url)} failed: ${redact(errorMessage(error))}`);
    return 1;
  } finally {
    await transport.close().catch(() => {});
  }
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else for (const status of report) io.out(line(status));
  return 0;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'print, per consumer group, its backlog and its dead letters on the broker',
  run,
};
