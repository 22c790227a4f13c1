/** @weft/store-etcd — the cluster store on a real etcd cluster (`clusterStore.etcd`). */
export { etcdStorePlugin, etcdBackend } from './plugin.ts';
export { openEtcdStore, prefixRange, watchRestarts, RETRY_WINDOW_MS } from './store.ts';
export { parseEtcdTarget, DEFAULT_TIMEOUT_MS } from './url.ts';
export type { EtcdTarget, EtcdTargetOptions } from './url.ts';
