/**
 * `GET /networks/{id}/peers`: this host's view of a network, from the data path's shared
 * counters (`DataPath.stats`), grouped by remote VTEP. Learned peers are grouped by node, static
 * ones (`network peer add`) by VTEP; nodes the network's gossip lists without an endpoint yet
 * appear with zero counters. On the kernel data path the vxlan device counts per network only, so
 * peers there have no counters of their own (the CLI prints `-`), and `Counters.Remote` is the device's.
 */
import type { DataPathStats, Network } from '@weft/kernel';
import type { NetworkPeers, PeerView } from '@weft/api';

const add = (into: Record<string, number>, c: Readonly<Record<string, number>>): void => {
  for (const [k, v] of Object.entries(c)) into[k] = (into[k] ?? 0) + v;
};

export function peersView(view: Network, networkId: string, stats: DataPathStats | undefined, self: string): NetworkPeers {
  const n = stats?.networks.find((x) => x.id === networkId);
  const groups = new Map<string, { node: string; vtep: string; external: boolean; macs: number; counters: Record<string, number> }>();
  const planeOf = new Map(view.Peers.map((m) => [m.Name, m.DataPlane]));
  for (const p of n?.peerList ?? []) {
    const key = `${p.external ? 'static' : 'node'}/${p.vtep}/${p.external ? '' : (p.node ?? '')}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { node: p.external ? '' : (p.node ?? ''), vtep: p.vtep, external: p.external, macs: 0, counters: {} }));
    g.macs++;
    add(g.counters, p.counters);
  }
  // Nodes on the network (gossip) whose endpoints have not reached the data path (or have none).
  for (const m of view.Peers) {
    if (m.Name === self || [...groups.values()].some((g) => !g.external && (g.node === m.Name || (g.node === '' && g.vtep === m.IP)))) continue;
    groups.set(`node/${m.IP}/${m.Name}`, { node: m.Name, vtep: m.IP, external: false, macs: 0, counters: {} });
  }
  const peers: PeerView[] = [...groups.values()].map((g) => {
    const v = stats?.vteps.find((x) => x.vtep === g.vtep);
    const vc = v?.counters ?? {};
    const c = (k: string) => g.counters[k] ?? 0;
    const h = (k: string) => vc[k] ?? 0;
    const counters: Record<string, number> = { ...g.counters };
    for (const k of ['drop_auth', 'drop_replay', 'drop_reassembly', 'drop_unknown_spi', 'drop_old_key']) counters[k] = h(k);
    return {
      Node: g.node,
      VTEP: g.vtep,
      Endpoints: g.macs > 0 ? g.macs : view.Endpoints.filter((e) => e.Node === g.node).length,
      Static: g.external,
      KeyEpoch: view.Encrypted && v !== undefined ? v.txEpoch : -1,
      SAAgeMs: view.Encrypted && v !== undefined && v.txEpoch >= 0 ? Math.round(v.saAgeMs) : 0,
      TxPackets: c('tx_packets'),
      TxBytes: c('tx_bytes'),
      RxPackets: c('rx_packets'),
      RxBytes: c('rx_bytes'),
      Drops: {
        NoRoute: c('drop_unknown_unicast'),
        Auth: h('drop_auth'),
        Replay: h('drop_replay'),
        Reassembly: h('drop_reassembly'),
        MTU: c('drop_too_big'),
        Key: h('drop_unknown_spi') + h('drop_old_key'),
        Send: c('drop_io') + c('drop_crypto'),
      },
      Counters: counters,
      ...(!g.external && planeOf.get(g.node) !== undefined ? { DataPlane: planeOf.get(g.node)! } : {}),
    };
  });
  peers.sort((a, b) => Number(a.Static) - Number(b.Static) || a.Node.localeCompare(b.Node) || a.VTEP.localeCompare(b.VTEP));
  return {
    Network: view.Name,
    VNI: view.VNI,
    Encrypted: view.Encrypted,
    ...(view.DataPlane !== undefined ? { DataPlane: view.DataPlane } : {}),
    Peers: peers,
    Endpoints: view.Endpoints,
    Counters: { Local: n?.ports ?? {}, Remote: n?.peers ?? {} },
  };
}
