/**
 * Test doubles of service contracts, for plugin tests that need a service but not its I/O.
 * They record what was asked of them and enforce the contract's preconditions, so a plugin that
 * misuses a service fails its tests.
 */
import { ClusterStoreCodes, definePlugin, errors, memoryClusterStore, WeftException, type ClusterStore, type ClusterStoreBackend, type Watcher, type Counters, type DataPath, type DataPathNetwork, type PeerSpec, type PluginDefinition, type PortSpec } from '@weft/kernel';

export interface RecordingDataPath extends DataPath {
  encrypts?: boolean;
  capacity?: { ports: number };
  readonly networks: Map<string, DataPathNetwork>;
  readonly ports: Map<string, PortSpec>; // key: network/endpointId
  readonly peers: Map<string, PeerSpec>; // key: network/mac
  readonly log: string[];
}

export function recordingDataPath(): RecordingDataPath {
  const networks = new Map<string, DataPathNetwork>();
  const ports = new Map<string, PortSpec>();
  const peers = new Map<string, PeerSpec>();
  const log: string[] = [];
  const need = (id: string, what: string) => {
    if (!networks.has(id)) throw new Error(`${what} on network "${id}", which was never ensured (call ensureNetwork first)`);
  };
  return {
    networks,
    ports,
    peers,
    log,
    async ensureNetwork(n) {
      networks.set(n.id, n);
      log.push(`ensureNetwork ${n.id} vni=${n.vni} mtu=${n.mtu}${n.encrypted ? ' encrypted' : ''}`);
    },
    async removeNetwork(id) {
      for (const k of ports.keys()) if (k.startsWith(`${id}/`)) throw new Error(`removeNetwork "${id}" while port ${k} is still attached`);
      for (const k of [...peers.keys()]) if (k.startsWith(`${id}/`)) peers.delete(k);
      if (networks.delete(id)) log.push(`removeNetwork ${id}`);
    },
    async addPort(p) {
      need(p.network, 'addPort');
      const k = `${p.network}/${p.endpointId}`;
      if (ports.has(k)) throw new Error(`addPort: port ${k} exists`);
      for (const q of ports.values()) if (q.ifname === p.ifname) throw new Error(`addPort: interface name ${p.ifname} already used by ${q.endpointId}`);
      ports.set(k, p);
      log.push(`addPort ${k} ${p.ifname} ${p.ipv4 ?? ''}${p.netns !== undefined ? ` netns=${p.netns}` : ''}`);
      return { ifname: p.ifname };
    },
    async removePort(network, endpointId) {
      const k = `${network}/${endpointId}`;
      if (!ports.delete(k)) throw new Error(`removePort: no port ${k}`);
      log.push(`removePort ${k}`);
    },
    addPeer(p) {
      need(p.network, 'addPeer');
      peers.set(`${p.network}/${p.mac}`, p);
      log.push(`addPeer ${p.network} ${p.mac} ${p.ipv4 ?? ''} via ${p.vtep}`);
    },
    removePeer(network, mac) {
      if (peers.delete(`${network}/${mac}`)) log.push(`removePeer ${network} ${mac}`);
    },
    portCount: () => ports.size,
    counters() {
      const out: Record<string, Counters> = {};
      for (const id of networks.keys()) out[id] = { ports: [...ports.keys()].filter((k) => k.startsWith(`${id}/`)).length, peers: [...peers.keys()].filter((k) => k.startsWith(`${id}/`)).length };
      return out;
    },
  };
}

/** A plugin providing `datapath` from a recording double. */
export function dataPathPlugin(dp: RecordingDataPath, name = 'test-datapath'): PluginDefinition {
  return definePlugin({ manifest: { name, version: '0.0.0', kernel: '*', provides: ['datapath'] }, services: { datapath: () => dp } });
}

// ---------------------------------------------------------------------------------------------
// Cluster stores

const sharedStores = new Map<string, ClusterStore>();

/** A view of `store` whose `close()` ends only the watches made through it (the store lives on). */
function handle(store: ClusterStore): ClusterStore {
  const watchers = new Set<Watcher>();
  let closed = false;
  const open = () => {
    if (closed) throw new WeftException(errors.unavailable('cluster-store', 'The cluster store (memory) is closed', { code: ClusterStoreCodes.unavailable }));
  };
  return {
    get: (k) => (open(), store.get(k)),
    range: (p, o) => (open(), store.range(p, o)),
    put: (k, v, o) => (open(), store.put(k, v, o)),
    delete: (k) => (open(), store.delete(k)),
    txn: (r) => (open(), store.txn(r)),
    watch(prefix, o) {
      open();
      const w = store.watch(prefix, o);
      watchers.add(w);
      return { close: () => (watchers.delete(w), w.close()) };
    },
    grantLease: (ttl) => (open(), store.grantLease(ttl)),
    keepAlive: (l) => (open(), store.keepAlive(l)),
    revokeLease: (l) => (open(), store.revokeLease(l)),
    compact: (r) => (open(), store.compact(r)),
    status: () => (open(), store.status()),
    async close() {
      closed = true;
      for (const w of watchers) w.close();
      watchers.clear();
    },
  };
}

/**
 * Cluster-store backends over the kernel's `memoryClusterStore`, for tests of plugins that need a
 * cluster store without etcd: `memory://NAME` (service `clusterStore.memory`, shared: every agent
 * of this process that opens the same NAME shares one store, as managers share etcd) and, with
 * `dir`, `embedded:` (service `clusterStore.embedded`, not shared, one store per `dir` that
 * survives a restart of the agent within the process).
 */
export function memoryClusterStorePlugin(opts: { readonly dir?: string } = {}): PluginDefinition {
  const backend = (shared: boolean): ClusterStoreBackend => ({
    schemes: shared ? ['memory'] : ['embedded'],
    shared,
    async open(o) {
      const key = shared ? o.url : `embedded:${opts.dir ?? ''}`;
      let s = sharedStores.get(key);
      if (s === undefined) sharedStores.set(key, (s = memoryClusterStore({ name: key })));
      return handle(s);
    },
  });
  return definePlugin({
    manifest: {
      name: 'memory-cluster-store',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: opts.dir !== undefined ? ['clusterStore.memory', 'clusterStore.embedded'] : ['clusterStore.memory'],
      description: 'In-memory cluster stores for tests (memory:// shared in the process, embedded: per dir)',
    },
    services: {
      'clusterStore.memory': () => backend(true),
      ...(opts.dir !== undefined ? { 'clusterStore.embedded': () => backend(false) } : {}),
    },
  });
}

/** Forgets the stores `memoryClusterStorePlugin` made (between tests). */
export function resetMemoryClusterStores(): void {
  for (const s of sharedStores.values()) void s.close();
  sharedStores.clear();
}
