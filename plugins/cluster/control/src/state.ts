/**
 * The manager's state and its transitions, as pure functions: (state, request, fresh values) →
 * new state, or a thrown WeftException. Randomness (IDs, keys) and time come in as arguments, so
 * every rule here is testable without sockets or timers. The manager persists the returned state
 * before it answers anyone.
 */
import { errors, raise, type DataKey, type WeftError } from '@weft/kernel';
import { cidrContains, cidrNth, cidrOverlaps, cidrContainsCidr, cidrSubnets, formatCidr, formatIP, parseCidr, parseIP, type Cidr } from '@weft/net';
import { rotate, type ManagedRing } from '@weft/kernel';
import { checkSubnets, reservedOverlap } from '@weft/hostnet';
import { RingState } from './keys.ts';
import {
  type NetworkRecord,
  type NodeRecord,
  type WireKey,
  type JoinInfo,
  type KeyRingInfo,
  type NetworkCreateRequest,
  type NodeView,
  type Role,
  type Snapshot,
  type SubnetRecord,
  type WireKeyRing,
} from './codecs.ts';
import { fromB64, toB64 } from './util.ts';
import { VNI_AUTO_START, VNI_MAX, type VniBitmap } from './vni.ts';

export { RingState };

export const PLUGIN = 'control';
export const VXLANID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
export const DEFAULT_ADDR_POOL = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;
/** The swarm's IPv6 default pool when `--default-addr-pool` names none (RFC 4193 ULA, as the IPAM's global IPv6 default). */
export const DEFAULT_ADDR_POOL_V6: readonly string[] = ['fd57:6566:7400::/48'];
/** IPv6 subnets taken from the default pools are /64s. */
export const DEFAULT_SUBNET_SIZE_V6 = 64;
export const DEFAULT_ROTATION_MS = 12 * 3600 * 1000;

export const NOT_A_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const NOT_IN_SWARM = 'This node is not a swarm manager. Use "weft swarm init" or "weft swarm join" to connect this node to swarm and try again.';

export const Codes = {
  notManager: 'WEFT_CONTROL_NOT_MANAGER',
  notInSwarm: 'WEFT_CONTROL_NOT_IN_SWARM',
  nameConflict: 'WEFT_CONTROL_NAME_CONFLICT',
  subnetOverlap: 'WEFT_CONTROL_SUBNET_OVERLAP',
  vniConflict: 'WEFT_CONTROL_VNI_CONFLICT',
  badVni: 'WEFT_CONTROL_BAD_VNI',
  noSubnet: 'WEFT_CONTROL_NO_FREE_SUBNET',
  activeEndpoints: 'WEFT_CONTROL_ACTIVE_ENDPOINTS',
  noManager: 'WEFT_CONTROL_NO_MANAGER',
  wrongSecret: 'WEFT_CONTROL_WRONG_SECRET',
  wrongManagerKey: 'WEFT_CONTROL_MANAGER_KEY_MISMATCH',
  nodeRemoved: 'WEFT_CONTROL_NODE_REMOVED',
  alreadyInSwarm: 'WEFT_CONTROL_ALREADY_IN_SWARM',
  /** A second manager on a store other hosts cannot share (embedded). */
  storeNotShared: 'WEFT_CONTROL_STORE_NOT_SHARED',
  /** The network is being removed by another request. */
  removing: 'WEFT_CONTROL_NETWORK_REMOVING',
  /** Too many concurrent changes to the same record; retry. */
  contention: 'WEFT_CONTROL_CONTENTION',
  /** A node's data-path address is of the other family than the network's other nodes'. */
  underlayFamily: 'WEFT_CONTROL_UNDERLAY_FAMILY',
} as const;

/** What network creation validates against: the networks and the swarm's default pools. */
export interface NetState {
  readonly Networks: Readonly<Record<string, NetworkRecord>>;
  readonly DefaultAddrPool: readonly string[];
  readonly SubnetSize: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------
// Key rings

const toWire = (k: DataKey): WireKey => ({ Epoch: k.epoch, Key: toB64(k.key) });
const fromWire = (k: WireKey): DataKey => ({ epoch: k.Epoch, key: fromB64(k.Key) });
const managed = (keys: readonly WireKey[], rotation: number): ManagedRing => ({ keys: keys.map(fromWire), rotation });

export function initialRingState(now: number, intervalMs: number, data: readonly DataKey[], gossip: readonly DataKey[]): RingState {
  return { Rotation: 0, Keys: data.map(toWire), Gossip: gossip.map(toWire), IntervalMs: intervalMs, NextRotationAt: now + intervalMs, LastRotatedAt: now };
}

/**
 * One rotation of both rings, guarded by the rotation count the caller saw: a rotation request
 * replayed after a restart or a retry (`expected` ≠ current) returns the ring unchanged.
 */
export function rotateRing(r: RingState, now: number, data: DataKey, gossip: DataKey, expected = r.Rotation): RingState {
  if (expected !== r.Rotation) return r;
  const d = rotate(managed(r.Keys, r.Rotation), data, expected);
  const g = rotate(managed(r.Gossip, r.Rotation), gossip, expected);
  if (d.rotation === r.Rotation) return r;
  return { ...r, Rotation: d.rotation, Keys: d.keys.map(toWire), Gossip: g.keys.map(toWire), LastRotatedAt: now, NextRotationAt: now + r.IntervalMs };
}

/** Primary = second newest (anchors §B.5): the newest is installed for receive first. */
export const primaryOf = (n: number): number => (n >= 2 ? n - 2 : 0);

export function wireRing(r: RingState): WireKeyRing {
  // Gossip: memberlist wants the primary first, then the others.
  const gp = primaryOf(r.Gossip.length);
  const gossip = r.Gossip.length === 0 ? [] : [r.Gossip[gp]!, ...r.Gossip.filter((_, i) => i !== gp)];
  return { Rotation: r.Rotation, Keys: r.Keys, Primary: primaryOf(r.Keys.length), Gossip: gossip, NextRotationAt: r.NextRotationAt, IntervalMs: r.IntervalMs };
}

export function ringInfo(r: { Rotation: number; Keys: readonly WireKey[]; NextRotationAt: number; IntervalMs: number }): KeyRingInfo {
  const epochs = r.Keys.map((k) => k.Epoch);
  return { Rotation: r.Rotation, Epochs: epochs, PrimaryEpoch: epochs[primaryOf(epochs.length)] ?? 0, NextRotationAt: r.NextRotationAt, IntervalMs: r.IntervalMs };
}

// ---------------------------------------------------------------------------------------------
// Nodes

export function newNodeRecord(id: string, info: JoinInfo, role: Role, now: number): NodeRecord {
  return {
    ID: id,
    Name: info.Name,
    Role: role,
    PublicKey: info.PublicKey,
    Addr: info.Addr,
    Platform: info.Platform,
    Availability: 'active',
    CreatedAt: iso(now),
    UpdatedAt: iso(now),
    Leader: false,
    Left: false,
    ...(info.GossipAddr !== undefined ? { GossipAddr: info.GossipAddr } : {}),
    ...(info.DataPathAddr !== undefined ? { DataPathAddr: info.DataPathAddr } : {}),
    ...(info.DataPathPort !== undefined ? { DataPathPort: info.DataPathPort } : {}),
    ...(info.ListenAddr !== undefined ? { ListenAddr: info.ListenAddr } : {}),
  };
}

/** By ID, name or unique ID prefix; `self` is the asking manager. */
export function findNode(nodes: ReadonlyMap<string, NodeRecord>, ref: string, self: string): NodeRecord {
  if (ref === 'self') ref = self;
  const exact = nodes.get(ref);
  if (exact !== undefined) return exact;
  const all = [...nodes.values()];
  const byName = all.filter((n) => n.Name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) raise(errors.conflict(PLUGIN, `Node name "${ref}" is ambiguous: ${byName.length} nodes have it; use the node ID`, { value: ref }));
  const byPrefix = all.filter((n) => n.ID.startsWith(ref));
  if (byPrefix.length === 1) return byPrefix[0]!;
  return raise(errors.notFound(PLUGIN, `Node "${ref}" not found`, { value: ref, hint: 'Run "weft node ls" to see the nodes.' }));
}

/**
 * Docker's `node ls` fields. A manager is `reachable` while it holds its lease in the cluster
 * store (it runs and reaches the store), `unreachable` otherwise; `Leader` is the holder of the
 * leader key.
 */
export function nodeView(n: NodeRecord, state: string, leader: string | undefined, managerReachable: boolean): NodeView {
  const v: NodeView = {
    ID: n.ID,
    CreatedAt: n.CreatedAt,
    UpdatedAt: n.UpdatedAt,
    Spec: { Role: n.Role, Availability: n.Availability },
    Description: { Hostname: n.Name, Platform: n.Platform },
    Status: { State: n.Left ? 'left' : state, Addr: n.Addr },
  };
  if (n.Role === 'manager') {
    v.ManagerStatus = { Leader: n.ID === leader, Reachability: managerReachable ? 'reachable' : 'unreachable', Addr: n.ListenAddr ?? n.Addr };
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Networks

/** By ID, name, or unique ID prefix (Docker's resolution order). */
export function findNetwork(networks: Readonly<Record<string, NetworkRecord>>, ref: string): NetworkRecord | undefined {
  const exact = networks[ref];
  if (exact !== undefined) return exact;
  const all = Object.values(networks);
  const byName = all.find((n) => n.Name === ref);
  if (byName !== undefined) return byName;
  const byPrefix = all.filter((n) => n.Id.startsWith(ref));
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
}

export function getNetwork(networks: Readonly<Record<string, NetworkRecord>>, ref: string): NetworkRecord {
  return findNetwork(networks, ref) ?? raise(errors.notFound(PLUGIN, `Network "${ref}" not found`, { value: ref, hint: 'Run "weft network ls" to see the networks.' }));
}

function cidrOf(s: string, what: string, name: string): Cidr {
  const r = parseCidr(s);
  if (!r.ok) raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": ${what}: ${r.error}`, { value: s }));
  return (r as { value: Cidr }).value;
}

function parseVnis(opt: string, count: number, name: string): number[] {
  const parts = opt.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const vnis = parts.map((p) => {
    const v = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!Number.isInteger(v) || v < 1 || v > VNI_MAX) {
      raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": VXLAN ID ${JSON.stringify(p)} in ${VXLANID_OPTION} is not an integer from 1 to ${VNI_MAX}`, { code: Codes.badVni, value: p }));
    }
    return v;
  });
  if (vnis.length !== count) {
    raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": ${VXLANID_OPTION} lists ${vnis.length} VXLAN IDs for ${count} subnet(s); give one per subnet`, { code: Codes.badVni, value: opt }));
  }
  if (new Set(vnis).size !== vnis.length) raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": ${VXLANID_OPTION} lists a VXLAN ID twice`, { code: Codes.badVni, value: opt }));
  return vnis;
}

function allSubnets(s: NetState): { net: NetworkRecord; subnet: Cidr }[] {
  const out: { net: NetworkRecord; subnet: Cidr }[] = [];
  for (const net of Object.values(s.Networks)) for (const sn of net.Subnets) {
    const r = parseCidr(sn.Subnet);
    if (r.ok) out.push({ net, subnet: r.value });
  }
  return out;
}

/**
 * First free subnet of the default pools of `family`: IPv4 pools are split into `SubnetSize`
 * subnets, IPv6 pools into /64s. Without an IPv6 entry in `--default-addr-pool` the IPv6 default
 * is `DEFAULT_ADDR_POOL_V6` (the IPAM's global IPv6 default), so `--ipv6` alone works.
 */
function pickSubnet(s: NetState, name: string, family: 4 | 6 = 4): Cidr {
  const taken = allSubnets(s).map((x) => x.subnet);
  const pools = poolsOf(s.DefaultAddrPool, family);
  const size = family === 4 ? s.SubnetSize : DEFAULT_SUBNET_SIZE_V6;
  for (const pool of pools) {
    if (pool.prefix > size) continue;
    let tried = 0;
    for (const c of cidrSubnets(pool, size)) {
      if (!taken.some((o) => cidrOverlaps(o, c))) return c;
      if (++tried > 1 << 20) break;
    }
  }
  return raise(errors.unavailable(PLUGIN, `Cannot create network "${name}": could not find an available, non-overlapping IPv${family} address pool among the defaults (${pools.map(formatCidr).join(', ')}) to assign to the network`, {
    code: Codes.noSubnet,
    hint: `Pass --subnet, remove unused networks, or init the swarm with a larger IPv${family} --default-addr-pool.`,
  }));
}

/** The default pools of one family (IPv6: the built-in default when none was given). */
function poolsOf(defaults: readonly string[], family: 4 | 6): Cidr[] {
  const out: Cidr[] = [];
  for (const p of defaults) {
    const c = parseCidr(p);
    if (c.ok && c.value.family === family) out.push(c.value);
  }
  if (out.length === 0) return family === 6 ? poolsOf(DEFAULT_ADDR_POOL_V6, 6) : poolsOf(DEFAULT_ADDR_POOL, 4);
  return out;
}

/**
 * `swarm init --default-addr-pool` (repeatable, IPv4 and IPv6) and `--default-addr-pool-mask-length`:
 * each pool parses, is no reserved range (see @weft/hostnet), holds subnets of the size networks
 * get (IPv4: the mask length; IPv6: /64), and no two overlap. A family without a pool keeps its
 * default (10.0.0.0/8; fd57:6566:7400::/48).
 */
export function checkDefaultPools(pools: readonly string[], subnetSize: number): void {
  const bad = (message: string, value: unknown, hint: string): never => raise(errors.badRequest(PLUGIN, `Cannot init the swarm: ${message}`, { code: Codes.noSubnet, value, hint }));
  if (!Number.isInteger(subnetSize) || subnetSize < 1 || subnetSize > 32) {
    bad(`--default-addr-pool-mask-length ${subnetSize} is not an IPv4 prefix length from 1 to 32 (IPv6 pools always give /64 subnets)`, subnetSize, 'Use a mask length such as 24.');
  }
  const seen: Cidr[] = [];
  for (const p of pools) {
    const r = parseCidr(p);
    if (!r.ok) bad(`--default-addr-pool ${p}: ${r.error}`, p, 'Give pools as address/prefix-length, such as 10.20.0.0/16 or fd00:20::/48.');
    const c = (r as { value: Cidr }).value;
    const reserved = reservedOverlap(c);
    if (reserved !== undefined) bad(`--default-addr-pool ${p} overlaps ${reserved}`, p, 'Give private ranges: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, or an IPv6 ULA such as fd00:20::/48.');
    const size = c.family === 6 ? DEFAULT_SUBNET_SIZE_V6 : subnetSize;
    if (c.prefix > size) {
      bad(`--default-addr-pool ${p} is smaller than the /${size} subnets networks take from it`, p, c.family === 6 ? 'Give an IPv6 pool of /64 or larger, such as fd00:20::/48.' : `Give a larger pool or a longer --default-addr-pool-mask-length (at least ${c.prefix}).`);
    }
    const clash = seen.find((o) => cidrOverlaps(o, c));
    if (clash !== undefined) bad(`--default-addr-pool ${p} overlaps pool ${formatCidr(clash)}`, p, 'Give pools that do not overlap.');
    seen.push(c);
  }
}

/** Validates and records a network: unique name, non-overlapping subnets, unique VNIs. */
export function createNetwork(s: NetState, req: NetworkCreateRequest, id: string, now: number, vnis: VniBitmap): NetworkRecord {
  const name = req.Name;
  const driver = req.Driver === undefined || req.Driver === '' ? 'overlay' : req.Driver;
  const clash = Object.values(s.Networks).find((n) => n.Name === name);
  if (clash !== undefined) {
    raise(errors.conflict(PLUGIN, `network with name ${name} already exists`, { code: Codes.nameConflict, value: name, hint: `Network "${name}" has ID ${clash.Id}; choose another name.` }));
  }
  if (req.Ingress === true) {
    // As swarmkit: one ingress network, overlay only, never attachable.
    if (driver !== 'overlay') raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": only the overlay driver is supported for an ingress network (got driver "${driver}")`, { value: driver }));
    if (req.Attachable === true) raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": ingress network cannot be attachable`, { value: name, hint: 'Drop --attachable.' }));
    const other = Object.values(s.Networks).find((n) => n.Ingress === true);
    if (other !== undefined) {
      raise(errors.conflict(PLUGIN, `Cannot create network "${name}": an ingress network already exists: "${other.Name}" (${other.Id}); a swarm has only one`, { code: Codes.nameConflict, value: name, hint: `Remove "${other.Name}" first (no service may publish ports meanwhile).` }));
    }
  }
  const configs = (req.IPAM?.Config ?? []).filter((c) => c.Subnet !== undefined);
  const enableIPv6 = req.EnableIPv6 ?? false;
  const enableIPv4 = req.EnableIPv4 ?? true;
  // Refused before anything is recorded: IPv6 without --ipv6, IPv4 on an IPv6-only network (or
  // neither family), reserved ranges, prefix bounds, mixed families.
  checkSubnets(PLUGIN, name, enableIPv6, configs, enableIPv4);
  const subnets: SubnetRecord[] = [];
  const cidrs: Cidr[] = [];
  const given = configs.map((c) => parseCidr(c.Subnet!)).filter((r) => r.ok).map((r) => (r as { value: Cidr }).value);
  // Docker's dual-stack: a network has IPv4 unless --ipv4=false (Docker 28's IPv6-only networks),
  // so without an IPv4 subnet one is taken from the default pools; with --ipv6 and no IPv6 subnet,
  // an IPv6 /64 from the default pools beside it.
  const picks: (4 | 6)[] = [];
  if (enableIPv4 && !given.some((c) => c.family === 4)) picks.push(4);
  if (enableIPv6 && !given.some((c) => c.family === 6)) picks.push(6);
  for (const cfg of configs) {
    const c = cidrOf(cfg.Subnet!, 'subnet', name);
    let gateway = cidrNth(c, 1);
    if (cfg.Gateway !== undefined) {
      const g = parseIP(cfg.Gateway);
      if (!g.ok || !cidrContains(c, g.value)) raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": gateway ${cfg.Gateway} is not in subnet ${formatCidr(c)}`, { value: cfg.Gateway }));
      gateway = (g as { value: typeof gateway & object }).value;
    }
    const rec: { -readonly [K in keyof SubnetRecord]: SubnetRecord[K] } = { Subnet: formatCidr(c), Gateway: gateway === undefined ? '' : formatIP(gateway) };
    if (cfg.IPRange !== undefined) {
      const r = cidrOf(cfg.IPRange, 'ip-range', name);
      if (!cidrContainsCidr(c, r)) raise(errors.badRequest(PLUGIN, `Cannot create network "${name}": ip-range ${cfg.IPRange} is not inside subnet ${formatCidr(c)}`, { value: cfg.IPRange }));
      rec.IPRange = formatCidr(r);
    }
    if (cfg.AuxiliaryAddresses !== undefined && Object.keys(cfg.AuxiliaryAddresses).length > 0) rec.AuxiliaryAddresses = cfg.AuxiliaryAddresses;
    cidrs.push(c);
    subnets.push(rec);
  }
  for (const family of picks) {
    const c = pickSubnet(s, name, family);
    cidrs.push(c);
    subnets.push({ Subnet: formatCidr(c), Gateway: formatIP(cidrNth(c, 1)!) });
  }
  // IPv4 subnets first, in the order given, then IPv6: whoever reads Subnets[0] (VIPs, the
  // Docker plugin, the VNI of the segment) gets the IPv4 one, as before IPv6.
  const order = subnets.map((_, i) => i).sort((i, j) => cidrs[i]!.family - cidrs[j]!.family || i - j);
  const sortedCidrs = order.map((i) => cidrs[i]!);
  const sortedSubnets = order.map((i) => subnets[i]!);
  cidrs.splice(0, cidrs.length, ...sortedCidrs);
  subnets.splice(0, subnets.length, ...sortedSubnets);
  // Overlaps: inside the request, then against every other network (naming it).
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = 0; j < i; j++) {
      if (cidrOverlaps(cidrs[i]!, cidrs[j]!)) {
        raise(errors.conflict(PLUGIN, `Cannot create network "${name}": subnet ${formatCidr(cidrs[i]!)} overlaps its own subnet ${formatCidr(cidrs[j]!)}`, { code: Codes.subnetOverlap, value: formatCidr(cidrs[i]!) }));
      }
    }
    for (const o of allSubnets(s)) {
      if (cidrOverlaps(cidrs[i]!, o.subnet)) {
        raise(errors.conflict(PLUGIN, `Cannot create network "${name}": subnet ${formatCidr(cidrs[i]!)} overlaps subnet ${formatCidr(o.subnet)} of network "${o.net.Name}" (${o.net.Id})`, {
          code: Codes.subnetOverlap,
          value: formatCidr(cidrs[i]!),
          hint: `Choose a subnet that does not overlap network "${o.net.Name}".`,
        }));
      }
    }
  }
  // VNIs: one per subnet for overlay networks.
  const options = { ...(req.Options ?? {}) };
  let vniList: number[] = [];
  if (driver === 'overlay') {
    const pinned = options[VXLANID_OPTION];
    if (pinned !== undefined && pinned !== '') {
      vniList = parseVnis(pinned, subnets.length, name);
      for (const v of vniList) {
        if (vnis.has(v)) {
          const owner = Object.values(s.Networks).find((n) => n.VNIs.includes(v));
          raise(errors.conflict(PLUGIN, `Cannot create network "${name}": VXLAN ID ${v} is already in use${owner !== undefined ? ` by network "${owner.Name}" (${owner.Id})` : ''}`, { code: Codes.vniConflict, value: v }));
        }
      }
    } else {
      const chosen = new Set<number>();
      for (let i = 0; i < subnets.length; i++) {
        const v = vnis.findFree(VNI_AUTO_START, chosen);
        if (v < 0) raise(errors.unavailable(PLUGIN, `Cannot create network "${name}": no free VXLAN ID left in ${VNI_AUTO_START}..${VNI_MAX}`, { code: Codes.vniConflict }));
        chosen.add(v);
        vniList.push(v);
      }
    }
    options[VXLANID_OPTION] = vniList.join(',');
  }
  const network: NetworkRecord = {
    Id: id,
    Name: name,
    Driver: driver,
    Scope: 'swarm',
    Options: options,
    Labels: { ...(req.Labels ?? {}) },
    Attachable: req.Attachable ?? false,
    Internal: req.Internal ?? false,
    Encrypted: 'encrypted' in options,
    EnableIPv6: req.EnableIPv6 ?? false,
    Subnets: subnets,
    VNIs: vniList,
    Created: iso(now),
    Attachments: {},
    ...(req.Ingress === true ? { Ingress: true } : {}),
    ...(enableIPv4 ? {} : { EnableIPv4: false }),
  };
  return network;
}

/** The address a node's VTEP has (its data-path address, else its advertise address). */
export const dataPathAddrOf = (n: NodeRecord): string => n.DataPathAddr ?? n.Addr;

/**
 * VXLAN does not cross address families: a node whose data-path address is IPv6 cannot exchange
 * frames with one whose address is IPv4. The first node on a network sets its underlay family; a
 * node of the other family is refused per network (before anything is attached), naming it, its
 * address and the nodes already there, rather than attached to peers its frames never reach.
 */
export function underlayFamilyConflict(net: NetworkRecord, node: NodeRecord, attachedNodes: Iterable<NodeRecord>): WeftError | undefined {
  const mine = dataPathAddrOf(node);
  const fam = (a: string) => (a.includes(':') ? 6 : 4);
  const others = [...attachedNodes].filter((o) => o.ID !== node.ID && !o.Left && fam(dataPathAddrOf(o)) !== fam(mine));
  if (others.length === 0) return undefined;
  const list = others.sort((a, b) => a.Name.localeCompare(b.Name)).map((o) => `${o.Name} ${dataPathAddrOf(o)}`);
  const shown = list.length > 5 ? `${list.slice(0, 5).join(', ')} and ${list.length - 5} more` : list.join(', ');
  return errors.conflict(
    PLUGIN,
    `Cannot attach node ${node.Name} to network ${net.Name}: its data-path address ${mine} is IPv${fam(mine)}, but the network's other nodes use IPv${fam(dataPathAddrOf(others[0]!))} (${shown}); VXLAN cannot cross address families, so its frames would be lost`,
    { code: Codes.underlayFamily, value: mine, hint: `Give every node of network ${net.Name} a --data-path-addr of one family (weft-agent --data-path-addr), or use another network.` },
  );
}

/** Docker's refusal to remove a network with endpoints, naming them. */
export function activeEndpoints(n: NetworkRecord, attachments: Readonly<Record<string, readonly string[]>>, nameOf: (node: string) => string): WeftError | undefined {
  const users = Object.entries(attachments).filter(([, sbs]) => sbs.length > 0);
  if (users.length === 0) return undefined;
  const who = users.map(([node, sbs]) => `${nameOf(node)} (${sbs.join(', ')})`).join('; ');
  return errors.conflict(PLUGIN, `error while removing network: network ${n.Name} id ${n.Id} has active endpoints on ${who}`, { code: Codes.activeEndpoints, value: n.Name, hint: 'Disconnect or remove those sandboxes first.' });
}

/** What nodes receive: network definitions (attachments are the managers' business), key ring, peers. */
export function snapshot(seq: number, networks: Iterable<NetworkRecord>, ring: RingState, nodes: Iterable<NodeRecord>, managers: readonly string[]): Snapshot {
  const gossipPeers = [...nodes]
    .filter((n) => !n.Left && n.GossipAddr !== undefined)
    .map((n) => n.GossipAddr!)
    .sort();
  const nets = [...networks].map((n) => ({ ...n, Attachments: {} })).sort((a, b) => a.Name.localeCompare(b.Name));
  return { Seq: seq, Networks: nets, KeyRing: wireRing(ring), GossipPeers: gossipPeers, Managers: [...managers] };
}
