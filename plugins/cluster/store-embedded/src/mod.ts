/** @weft/store-embedded — the kernel `ClusterStore` on LMDB in the agent's state dir. */
export { openEmbeddedStore, type EmbeddedStoreOptions } from './store.ts';
export { embeddedStorePlugin, embeddedBackend, databaseDir, type EmbeddedStorePluginOptions } from './plugin.ts';
