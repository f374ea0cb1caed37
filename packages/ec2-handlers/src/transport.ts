import { type AdapterModule, adapterPackageFor, createTransport, type Transport } from '@org/eventbus';

/**
 * `createTransport(url)`, but resolving the adapter package from this package first: in a workspace
 * core cannot see the adapters (the arrow points into core), while an app that installed both can.
 */
export async function loadTransport(url: string, options: Record<string, unknown> = {}): Promise<Transport> {
  const pkg = adapterPackageFor(url);
  if (pkg !== undefined) {
    const adapter = (await import(pkg).catch(() => undefined)) as Partial<AdapterModule> | undefined;
    if (typeof adapter?.fromUrl === 'function') return adapter.fromUrl(url, options);
  }
  return createTransport(url, options);
}
