/**
 * Test doubles of service contracts, for plugin tests that need a service but not its I/O.
 * They record what was asked of them and enforce the contract's preconditions, so a plugin that
 * misuses a service fails its tests.
 */
import { definePlugin, type Counters, type DataPath, type DataPathNetwork, type PeerSpec, type PluginDefinition, type PortSpec } from '@weft/kernel';

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
