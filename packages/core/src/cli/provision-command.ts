import { transportFromUrl } from '../create-transport.js';
import { errorMessage } from '../errors.js';
import { registryFromModule } from '../graph/describe-app.js';
import { isContract } from '../graph/registry.js';
import { redact } from '../redact.js';
import { groupTopologies } from '../topology.js';
import { type Command, type CommandIo, parseCommandLine } from './command.js';
import { loadEntry } from './entry.js';

export const PROVISION_USAGE = `Usage: eventbus provision --entry <module> [--export <name>] [--url <broker url>]

Declares on the broker every consumer group the module's handlers belong to (queues, bindings, durable
consumers, subscriptions: what starting the app would create), without consuming anything, so events
published before the first worker starts are kept for each group. Idempotent: run it on every deploy,
before the publishers start. The module is loaded as for \`eventbus docs\` (its export --export, else
\`registry\`, \`bus\` or default); nothing in it is started.

  --url   the broker (default: $EVENTBUS_URL), e.g. amqp://user:pass@host:5672`;

/** `eventbus provision`: exit code 0 when every group is declared, 1 when the broker refused, 2 on bad usage. */
async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandLine('provision', PROVISION_USAGE, argv, {
        entry: { type: 'string' },
        export: { type: 'string' },
        url: { type: 'string' },
  }, io);
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const url = values.url ?? io.env.EVENTBUS_URL;
  if (!values.entry || !url) {
    io.err(`eventbus provision: ${values.entry ? 'no broker: pass --url or set EVENTBUS_URL' : '--entry is required'}\n\n${PROVISION_USAGE}`);
    return 2;
  }
  const registry = await registryFromModule(await loadEntry(values.entry, io.cwd), {}, values.export);
  const handlers = registry.handlers.flatMap((h) => (isContract(h.on) ? [{ group: h.group, contract: h.on }] : []));
  for (const h of registry.handlers) {
    if (!isContract(h.on)) io.err(`eventbus provision: handler "${h.name}" is on "${h.on}", which has no contract: its channel is unknown, skipped`);
  }
  const groups = groupTopologies(handlers, registry.contracts);
  if (groups.length === 0) {
    io.out(`eventbus provision: ${values.entry} declares no handlers; nothing to provision.`);
    return 0;
  }
  const transport = await (io.transportFor ?? ((u: string) => transportFromUrl(u, {}, io.cwd ?? process.cwd())))(url);
  try {
    await transport.connect();
    await transport.provision(groups);
  } catch (error) {
    io.err(`eventbus provision: ${transport.name} refused the topology at ${redact(url)}: ${redact(errorMessage(error))}`);
    return 1;
  } finally {
    await transport.close().catch(() => {});
  }
  for (const g of groups) {
    io.out(`provisioned group "${g.group}" on ${g.channels.join(', ')}${g.types ? ` (types ${g.types.join(', ')})` : ''}`);
  }
  io.out(`eventbus provision: ${groups.length} group(s) declared on ${transport.name} at ${redact(url)}.`);
  return 0;
}

export const provisionCommand: Command = {
  name: 'provision',
  summary: "declare every consumer group of an app on the broker, before anything publishes (run it on every deploy)",
  run,
};
