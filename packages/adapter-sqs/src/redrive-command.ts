import { parseArgs } from 'node:util';
import { type Command, type CommandIo, errorMessage, redact } from '@org/eventbus';
import { parseSqsUrl } from './options.js';
import { SqsTransport } from './transport.js';

const NAME = 'eventbus sqs redrive';

export const REDRIVE_USAGE = `Usage: ${NAME} --group <group> [--url sqs://<region>?…] [--max <n>]

Moves the group's dead letters back to its queue (never to the topic, so other groups are not sent them
again). They start over at attempt 1. --url defaults to EVENTBUS_URL. Nothing is created: the group's
queue and its dead-letter queue must exist, so a wrong group, prefix or endpoint is reported as such.`;

/** `eventbus sqs redrive …`: exit 0 when moved, 1 when SQS refused, 2 on a usage mistake (said in one line). */
async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const mistake = (problem: string) => {
    io.err(`${NAME}: ${problem} (${NAME} --help shows the usage)`);
    return 2;
  };
  let values: { group?: string | undefined; url?: string | undefined; max?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { group: { type: 'string' }, url: { type: 'string' }, max: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    // parseArgs names the option ("Unknown option '--x'"); strip its advice that follows.
    return mistake(errorMessage(error).split('. ')[0] ?? 'bad arguments');
  }
  if (values.help) {
    io.out(REDRIVE_USAGE);
    return 0;
  }
  if (!values.group) return mistake('redrive needs --group <group>: the group whose dead letters go back to its queue');
  const url = values.url ?? io.env.EVENTBUS_URL;
  if (!url) return mistake('no SQS URL: pass --url sqs://<region>?endpoint=… or set EVENTBUS_URL');
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) return mistake(`--max must be a positive whole number (got "${values.max}")`);
  let transport: SqsTransport;
  try {
    // manage: false whatever the URL says: redrive moves messages between queues that exist and creates
    // nothing, so a wrong group, prefix or endpoint is reported instead of leaving new queues behind.
    transport = new SqsTransport({ ...parseSqsUrl(url), manage: false });
  } catch (error) {
    return mistake(redact(errorMessage(error)));
  }
  try {
    const moved = await transport.redrive(values.group, max === undefined ? {} : { max });
    io.out(`moved ${moved} dead letter(s) of group "${values.group}" back to its queue`);
    return 0;
  } catch (error) {
    io.err(redact(`${NAME}: redrive failed: ${errorMessage(error)}`));
    return 1;
  } finally {
    await transport.close();
  }
}

/** The SQS adapter's command: `eventbus sqs redrive --group <group> [--url …] [--max n]`. */
export const redriveCommand: Command = {
  name: 'redrive',
  summary: "move a group's dead letters back to its queue (they start over at attempt 1)",
  run,
};

/**
 * `redriveCommand.run`, kept for code that called it before the command moved under `eventbus sqs`;
 * a leading "redrive" (that code's argv) is accepted.
 */
export function runRedriveCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  return run(argv[0] === 'redrive' ? argv.slice(1) : argv, io);
}
