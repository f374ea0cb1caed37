import { parseArgs } from 'node:util';
import { redact } from '@org/eventbus';
import { SqsTransport } from './transport.js';
import { parseSqsUrl } from './url.js';

export const REDRIVE_USAGE = `Usage: eventbus-sqs redrive --group <group> [--url sqs://<region>?…] [--max <n>]

Moves the group's dead letters back to its queue (never to the topic, so other groups are not sent them
again). They start over at attempt 1. --url defaults to EVENTBUS_URL. Nothing is created: the group's
queue and its dead-letter queue must exist, so a wrong group, prefix or endpoint is reported as such.`;

export interface CommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `eventbus-sqs redrive …`; resolves with the exit code (2: a usage mistake, said in one line). */
export async function runRedriveCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const mistake = (problem: string) => {
    io.err(`eventbus-sqs: ${problem} (eventbus-sqs --help shows the usage)`);
    return 2;
  };
  let values: { group?: string; url?: string; max?: string; help?: boolean };
  let command: string | undefined;
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { group: { type: 'string' }, url: { type: 'string' }, max: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    values = parsed.values;
    command = parsed.positionals[0];
  } catch (error) {
    // parseArgs names the option ("Unknown option '--x'"); strip its advice about positionals.
    return mistake((error as Error).message.split('. ')[0] ?? 'bad arguments');
  }
  if (values.help || command === 'help') {
    io.out(REDRIVE_USAGE);
    return 0;
  }
  if (command === undefined) {
    io.err(REDRIVE_USAGE);
    return 2;
  }
  if (command !== 'redrive') return mistake(`unknown command "${command}"; the command is redrive`);
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
    return mistake(redact((error as Error).message));
  }
  try {
    const moved = await transport.redrive(values.group, max === undefined ? {} : { max });
    io.out(`moved ${moved} dead letter(s) of group "${values.group}" back to its queue`);
    return 0;
  } catch (error) {
    io.err(redact(`eventbus-sqs: redrive failed: ${(error as Error).message}`));
    return 1;
  } finally {
    await transport.close();
  }
}
