import { parseArgs } from 'node:util';
import { redact } from '@org/eventbus';
import { fromUrl } from './url.js';

export const REDRIVE_USAGE = `Usage: eventbus-sqs redrive --group <group> [--url sqs://<region>?…] [--max <n>]

Moves the group's dead letters back to its queue (never to the topic, so other groups are not sent them
again). They start over at attempt 1. --url defaults to EVENTBUS_URL.`;

export interface CommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `eventbus-sqs redrive …`; resolves with the exit code. */
export async function runRedriveCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let values: { group?: string; url?: string; max?: string; help?: boolean };
  let command: string | undefined;
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { group: { type: 'string' }, url: { type: 'string' }, max: { type: 'string' }, help: { type: 'boolean' } },
    });
    values = parsed.values;
    command = parsed.positionals[0];
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${REDRIVE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(REDRIVE_USAGE);
    return 0;
  }
  const url = values.url ?? io.env.EVENTBUS_URL;
  const max = values.max === undefined ? undefined : Number(values.max);
  if (command !== 'redrive' || !values.group || !url || (max !== undefined && !(Number.isInteger(max) && max > 0))) {
    io.err(REDRIVE_USAGE);
    return 2;
  }
  try {
    const transport = fromUrl(url);
    try {
      const moved = await transport.redrive(values.group, max === undefined ? {} : { max });
      io.out(`moved ${moved} dead letter(s) of group "${values.group}" back to its queue`);
    } finally {
      await transport.close();
    }
    return 0;
  } catch (error) {
    io.err(redact(`redrive failed: ${(error as Error).message}`));
    return 1;
  }
}
