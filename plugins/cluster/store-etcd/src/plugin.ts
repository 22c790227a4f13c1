/**
 * The plugin: provides the kernel service `clusterStore.etcd`, a `ClusterStoreBackend` for
 * `etcd://` and `etcds://` URLs, shared by every manager of a swarm. Stopping the plugin closes
 * every store it opened.
 */
import { definePlugin, type ClusterStore, type ClusterStoreBackend, type ClusterStoreOpenOptions, type PluginDefinition } from '@weft/kernel';
import { openEtcdStore } from './store.ts';

export function etcdBackend(): ClusterStoreBackend & { closeAll(): Promise<void> } {
  const open = new Set<ClusterStore>();
  return {
    schemes: ['etcd', 'etcds'],
    shared: true,
    async open(o: ClusterStoreOpenOptions) {
      const s = await openEtcdStore(o);
      const close = s.close.bind(s);
      // Bound methods: the store is a class instance, so a spread would lose its prototype.
      const tracked: ClusterStore = {
        get: s.get.bind(s),
        range: s.range.bind(s),
        put: s.put.bind(s),
        delete: s.delete.bind(s),
        txn: s.txn.bind(s),
        watch: s.watch.bind(s),
        grantLease: s.grantLease.bind(s),
        keepAlive: s.keepAlive.bind(s),
        revokeLease: s.revokeLease.bind(s),
        compact: s.compact.bind(s),
        status: s.status.bind(s),
        close: async () => {
          open.delete(tracked);
          await close();
        },
      };
      open.add(tracked);
      return tracked;
    },
    async closeAll() {
      await Promise.allSettled([...open].map((s) => s.close()));
    },
  };
}

export function etcdStorePlugin(): PluginDefinition {
  let backend: ReturnType<typeof etcdBackend> | undefined;
  return definePlugin({
    manifest: {
      name: 'store-etcd',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['clusterStore.etcd'],
      description: 'The cluster store on a real etcd (v3) cluster: etcd:// and etcds:// (TLS), shared by several managers',
    },
    services: {
      'clusterStore.etcd': () => (backend = etcdBackend()),
    },
    stop: async () => {
      await backend?.closeAll();
    },
  });
}
