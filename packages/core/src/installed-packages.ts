import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventbusAdapter } from './adapter.js';
import type { Command } from './cli/command.js';
import { ConfigError } from './errors.js';

/**
 * An installed package whose package.json carries `"eventbus": { "name": "rabbitmq", "schemes": ["amqp"] }`:
 * an adapter (it serves schemes and exports `adapter`) or a package that only adds commands
 * (`"eventbus": { "name": "postgres" }`, exporting `commands`). Core knows no package by name: it finds them.
 */
export interface EventbusPackage {
  /** The npm name, "@org/eventbus-rabbitmq". */
  readonly packageName: string;
  /** Its `eventbus.name`: its commands run as `eventbus <name> <command>`. */
  readonly name: string;
  /** URL schemes it serves, lower case, without the colon; none for a package that only adds commands. */
  readonly schemes: readonly string[];
  /** Its folder in node_modules (a symlink under pnpm). */
  readonly dir: string;
}

const scans = new Map<string, Promise<readonly EventbusPackage[]>>();

/**
 * The eventbus packages installed for an app in `from` (default: the working directory): every
 * node_modules from there up to the root, as Node resolves, the nearest copy of a package winning.
 * Scanned once per folder and process: a scan reads every installed package.json.
 */
export function installedPackages(from: string = process.cwd()): Promise<readonly EventbusPackage[]> {
  const start = resolve(from);
  let scan = scans.get(start);
  if (scan === undefined) {
    scan = scanUpwards(start);
    scans.set(start, scan);
  }
  return scan;
}

async function scanUpwards(start: string): Promise<readonly EventbusPackage[]> {
  const found = new Map<string, EventbusPackage>();
  for (let dir = start; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      for (const pkg of await scanNodeModules(join(dir, 'node_modules'))) {
        if (!found.has(pkg.packageName)) found.set(pkg.packageName, pkg);
      }
    }
    if (dirname(dir) === dir) return [...found.values()];
  }
}

async function scanNodeModules(nodeModules: string): Promise<EventbusPackage[]> {
  const names = await listDir(nodeModules);
  const scoped = await Promise.all(
    names.filter((n) => n.startsWith('@')).map(async (scope) => (await listDir(join(nodeModules, scope))).map((n) => `${scope}/${n}`)),
  );
  const all = [...names.filter((n) => !n.startsWith('@')), ...scoped.flat()];
  const read = await Promise.all(all.map((name) => readEventbusField(join(nodeModules, name), name)));
  return read.filter((pkg): pkg is EventbusPackage => pkg !== undefined);
}

/** Folder names, without pnpm's and npm's own (.pnpm, .bin, .package-lock.json); none when it does not exist. */
async function listDir(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => []);
  return names.filter((n) => !n.startsWith('.'));
}

async function readEventbusField(dir: string, folderName: string): Promise<EventbusPackage | undefined> {
  const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => '');
  // Most packages have nothing to do with us: skip the parse.
  if (!text.includes('"eventbus"')) return undefined;
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(manifest) || !isRecord(manifest.eventbus)) return undefined;
  const { name, schemes } = manifest.eventbus;
  if (typeof name !== 'string' || name === '') return undefined;
  return {
    packageName: typeof manifest.name === 'string' ? manifest.name : folderName,
    name,
    schemes: Array.isArray(schemes) ? schemes.filter((s): s is string => typeof s === 'string').map(normalScheme) : [],
    dir,
  };
}

/** The folder of `packageName` in the nearest node_modules from `from` up, whatever its package.json says. */
export async function packageFolder(packageName: string, from: string = process.cwd()): Promise<string | undefined> {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const folder = join(dir, 'node_modules', packageName);
    if (await readFile(join(folder, 'package.json')).then(() => true, () => false)) return folder;
    if (dirname(dir) === dir) return undefined;
  }
}

/** `AMQP:` and `amqp` are the same scheme: lower case, no colon. */
export function normalScheme(scheme: string): string {
  return scheme.toLowerCase().replace(/:$/, '');
}

/**
 * Whether this is core's CommonJS build: `__filename` exists there and not in ESM. (vitest's module
 * wrapper defines it too; vite loads a path and honours its own conditions, so that case works as well.)
 */
const COMMON_JS = typeof __filename === 'string';

/**
 * Import an installed package. By name first, so the runtime's resolver picks the entry with its own
 * conditions (Node's `--conditions=@org/source`, vitest's `resolve.conditions`, a bundler's); where the
 * name does not resolve from core (a workspace where only the app lists the adapter, a linked core),
 * from the folder the scan found, resolving its `exports` with Node's conditions.
 */
export async function importPackage(packageName: string, dir?: string): Promise<unknown> {
  try {
    return await import(packageName);
  } catch (error) {
    if (dir === undefined || !isMissingPackage(error, packageName)) throw error;
  }
  const file = await entryFile(dir);
  // Core's CommonJS build turns import() into require(), which takes a path where ESM wants a file URL.
  return import(COMMON_JS ? file : pathToFileURL(file).href);
}

/** Node's "not found" for this very package (not for something its entry imports). */
export function isMissingPackage(error: unknown, packageName: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = 'code' in error ? error.code : undefined;
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Failed to load url/.test(error.message);
  return notFound && (error.message.includes(`'${packageName}'`) || error.message.includes(` ${packageName} `) || error.message.includes(`"${packageName}"`));
}

/**
 * Conditions Node loads a package with from here: its own (`import`, or `require` in core's CommonJS build,
 * so the adapter shares the app's copy of core), then the user's (`--conditions`/`-C`, also in NODE_OPTIONS).
 */
function loadConditions(): Set<string> {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const conditions = new Set(['node', COMMON_JS ? 'require' : 'import', 'default']);
  args.forEach((arg, i) => {
    const inline = /^(?:--conditions|-C)=(.+)$/.exec(arg)?.[1];
    const next = args[i + 1];
    if (inline) conditions.add(inline);
    else if ((arg === '--conditions' || arg === '-C') && next) conditions.add(next);
  });
  return conditions;
}

/** The file a package's "." export names under `conditions` (the first matching key, in the map's order). */
function exportTarget(exportsField: unknown, conditions: Set<string>): string | undefined {
  if (typeof exportsField === 'string') return exportsField;
  if (Array.isArray(exportsField)) {
    for (const candidate of exportsField) {
      const target = exportTarget(candidate, conditions);
      if (target !== undefined) return target;
    }
    return undefined;
  }
  if (!isRecord(exportsField)) return undefined;
  if ('.' in exportsField) return exportTarget(exportsField['.'], conditions);
  for (const [condition, value] of Object.entries(exportsField)) {
    if (!conditions.has(condition)) continue;
    const target = exportTarget(value, conditions);
    if (target !== undefined) return target;
  }
  return undefined;
}

async function entryFile(dir: string): Promise<string> {
  const manifest: unknown = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const record = isRecord(manifest) ? manifest : {};
  const target = exportTarget(record.exports, loadConditions()) ?? (typeof record.main === 'string' ? record.main : 'index.js');
  return resolve(dir, target);
}

/** The `adapter` export of an imported adapter package, checked: a ConfigError says what is wrong with it. */
export function adapterOf(module: unknown, packageName: string): EventbusAdapter {
  const adapter = isRecord(module) ? module.adapter : undefined;
  if (isAdapter(adapter)) return adapter;
  throw new ConfigError('url', 'not an eventbus adapter', {
    message: `${packageName} declares URL schemes in its package.json "eventbus" field, but its main entry exports no adapter: it needs \`export const adapter: EventbusAdapter = { name, schemes, fromUrl }\``,
  });
}

/** The commands a package adds: its adapter's `commands`, else its `commands` export; checked. */
export function commandsOf(module: unknown, packageName: string): readonly Command[] {
  const record = isRecord(module) ? module : {};
  const commands = isRecord(record.adapter) && record.adapter.commands !== undefined ? record.adapter.commands : record.commands;
  if (commands === undefined) return [];
  if (Array.isArray(commands) && commands.every(isCommand)) return commands;
  throw new Error(`${packageName} exports commands that are not eventbus Commands (each needs name, summary and run(argv, io))`);
}

export function isAdapter(value: unknown): value is EventbusAdapter {
  return isRecord(value) && typeof value.name === 'string' && Array.isArray(value.schemes) && typeof value.fromUrl === 'function';
}

export function isCommand(value: unknown): value is Command {
  return isRecord(value) && typeof value.name === 'string' && typeof value.summary === 'string' && typeof value.run === 'function';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
