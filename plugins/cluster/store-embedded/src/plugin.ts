/**
 * The plugin: provides the kernel service `clusterStore.embedded`, a `ClusterStoreBackend` that
 * opens the embedded store in `<dir>/cluster-store` (dir: the agent's state dir).
 */
import * as path from 'node:path';
import { ClusterStoreCodes, definePlugin, errors, throwable, type ClusterStore, type ClusterStoreBackend, type ClusterStoreOpenOptions, type PluginDefinition } from '@weft/kernel';
import { openEmbeddedStore, type EmbeddedStoreOptions } from './store.ts';

export interface EmbeddedStorePluginOptions {
  /** The agent's state dir; the database is `<dir>/cluster-store/`. */
  readonly dir: string;
  /** Passed to the store (history kept, lease clock, durability). */
  readonly store?: Omit<EmbeddedStoreOptions, 'path'>;
}

/**
 * `embedded:` (or `embedded://`) opens `<dir>/cluster-store`; `embedded:/abs/path` opens that
 * directory instead. Anything else is refused with `WEFT_CLUSTER_STORE_BAD_CONFIG`.
 */
export function databaseDir(url: string, dir: string): string {
  const m = /^embedded:(.*)$/.exec(url);
  if (m === null) {
    throw throwable(errors.badRequest('store-embedded', `The embedded cluster store opens embedded: URLs, not ${JSON.stringify(url)}`, { code: ClusterStoreCodes.badConfig, value: url, hint: 'Use --cluster-store embedded: (the default), or etcd://HOST:PORT,… for etcd.' }));
  }
  const rest = m[1]!;
  if (rest === '' || rest === '//') return path.join(dir, 'cluster-store');
  if (rest.startsWith('/') && !rest.startsWith('//')) return rest;
  throw throwable(errors.badRequest('store-embedded', `Cannot use ${JSON.stringify(url)}: after embedded: give nothing (the state dir) or an absolute path`, { code: ClusterStoreCodes.badConfig, value: url }));
}

export function embeddedBackend(opts: EmbeddedStorePluginOptions): ClusterStoreBackend & { closeAll(): Promise<void> } {
  const open = new Set<ClusterStore>();
  return {
    schemes: ['embedded'],
    // One host's database: a second manager on another host cannot open it.
    shared: false,
    async open(o: ClusterStoreOpenOptions) {
      const s = await openEmbeddedStore({ ...opts.store, path: databaseDir(o.url, opts.dir) });
      const close = s.close.bind(s);
      const tracked: ClusterStore = { ...s, close: async () => { open.delete(tracked); await close(); } };
      open.add(tracked);
      return tracked;
    },
    async closeAll() {
      await Promise.allSettled([...open].map((s) => s.close()));
    },
  };
}

export function embeddedStorePlugin(opts: EmbeddedStorePluginOptions): PluginDefinition {
  let backend: ReturnType<typeof embeddedBackend> | undefined;
  return definePlugin({
    manifest: {
      name: 'store-embedded',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['clusterStore.embedded'],
      description: 'The cluster store in the state dir, on LMDB: revisions, history, watch, leases, compaction',
    },
    services: {
      'clusterStore.embedded': () => (backend = embeddedBackend(opts)),
    },
    /** Closes every store it opened (the database's owner record is released). */
    stop: async () => {
      await backend?.closeAll();
    },
  });
}
