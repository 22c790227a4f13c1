/**
 * `GET /networks/{id}/peers`: this host's view of a network, from the data path's shared
 * counters (`DataPath.stats`), grouped by remote VTEP. Learned peers are grouped by node, static
 * ones (`network peer add`) by VTEP; nodes the network's gossip lists without an endpoint yet
 * appear with zero counters. On the kernel data path the vxlan device counts per network only, so
 * peers there have no counters of their own (the CLI prints `-`), and `Counters.Remote` is the device's.
 */
import { errors, raise, type DataPathStats, type NetDef, type Network } from '@weft/kernel';
import { cidrContains, formatCidr, parseCidr, parseIP, type Cidr } from '@weft/net';
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

/**
 * The addresses of a static peer (`POST /networks/{id}/peers`): `IP` of either family, `IPv6` the
 * IPv6 one beside an IPv4 `IP`. Each must parse and lie in the network's subnet of its family, so
 * a peer the network could never reach is refused with the reason rather than programmed.
 */
export function peerAddresses(def: Pick<NetDef, 'Name' | 'Subnets'>, r: { readonly IP: string; readonly IPv6?: string | undefined }): { ipv4?: string; ipv6?: string } {
  const out: { ipv4?: string; ipv6?: string } = {};
  for (const [field, text] of [['IP', r.IP], ['IPv6', r.IPv6]] as const) {
    if (text === undefined) continue;
    const bare = text.split('/')[0] ?? text;
    const a = parseIP(bare);
    if (!a.ok) raise(errors.badRequest('api', `static peer address ${JSON.stringify(text)}: ${a.error}`, { path: field, value: text, hint: 'Give the overlay address of the peer, such as 10.1.0.50 or fd00:1::50.' }));
    const family = a.value.family;
    if (field === 'IPv6' && family !== 6) raise(errors.badRequest('api', `static peer address ${text} given as IPv6 is IPv4`, { path: field, value: text }));
    const key = family === 4 ? 'ipv4' : 'ipv6';
    if (out[key] !== undefined) raise(errors.badRequest('api', `static peer has two IPv${family} addresses (${out[key]} and ${bare}): give one of each family at most`, { path: field, value: text }));
    const subnets = def.Subnets.map((s) => parseCidr(s.Subnet)).filter((c) => c.ok && c.value.family === family).map((c) => (c as { value: Cidr }).value);
    if (subnets.length === 0) {
      raise(errors.badRequest('api', `static peer address ${bare} is IPv${family}, but network ${def.Name} has no IPv${family} subnet`, { path: field, value: text, hint: family === 6 ? 'Create the network with --ipv6 for IPv6 peers.' : 'Give the IPv6 address of the peer.' }));
    }
    if (!subnets.some((c) => cidrContains(c, a.value))) {
      const list = subnets.map(formatCidr).join(', ');
      raise(errors.badRequest('api', `static peer address ${bare} is not in network ${def.Name}'s IPv${family} subnet ${list}`, { path: field, value: text, hint: `Give the peer's address in ${list}.` }));
    }
    out[key] = bare;
  }
  return out;
}
