/**
 * The kernel data path: the DataPath contract on Linux's own devices, laid out as Docker's overlay
 * driver lays them out. Per network, a namespace of its own holding
 *
 *   br0      a bridge with the network's gateway addresses (and a fixed MAC, so the gateway's
 *            MAC never changes as ports come and go), MTU of the network
 *   vxlan0   VNI, `dstport`, `local` = this VTEP, `nolearning`, `proxy` (ARP/ND answered from
 *            the neighbour table), enslaved to br0; made from the agent's namespace, so its UDP
 *            socket lives beside the underlay (the kernel keeps the socket in the namespace the
 *            device was created in)
 *   ve…      one veth per sandbox: one end on br0, the other created straight in the sandbox
 *            under its final name with the endpoint's MAC
 *
 * Remote endpoints are static entries programmed through rtnetlink (@weft/sys): an FDB entry on
 * vxlan0 (MAC → VTEP[:port]) and a permanent neighbour entry (IP → MAC) for proxy ARP. Nothing
 * floods or learns. Everything lives in the kernel, so frames keep moving while the agent is down;
 * a restarted agent adopts what it finds by name and replaces only what changed.
 */
import * as fs from 'node:fs';
import { errors, raise, type Counters, type DataPath, type DataPathNetwork, type DataPathStats, type NetworkStats, type Dns, type Logger, type PeerSpec, type PortSpec } from '@weft/kernel';
import {
  configureLink, ip, linkIndex, loadSys, netnsAdd, netnsPath, nlAddrAdd, nlFdbAdd, nlFdbDel, nlLinkAdd, nlLinkDel, nlLinkList, nlLinkSet, nlNeighAdd, nlNeighDel,
  nlNeighList, openNetlink, openNetnsFd, parseIPv4, createNsListeners, AF_BRIDGE, AF_INET6, NTF_SELF, type LinkRow, type Netlink, type NlMessage, type Sys,
} from '@weft/sys';
import { canonicalIP, interfaceName, parseIP, vtepFamilyMismatch, VTEP_FAMILY_HINT } from '@weft/net';
import { startResolver, type Resolver } from './resolver.ts';

export interface KernelVxlanOptions {
  /** Underlay address of this host's VTEP: the vxlan devices' `local`. */
  readonly dataPathAddr: string;
  /** UDP port the vxlan devices receive on (`dstport`); default 4789. Shared by all networks. */
  readonly dataPathPort?: number;
  /** The agent's namespace, where vxlan devices are made (their socket lives there); default the caller's. */
  readonly netns?: string;
  /**
   * Prefix of the networks' namespace names (`<prefix><network id>`); default
   * `wfk-<inode of the agent's namespace>-`, so agents in different namespaces never collide and a
   * restarted agent finds its own.
   */
  readonly prefix?: string;
  /** Resolver port inside each network's namespace; default 53. */
  readonly dnsPort?: number;
  /** Unclaimed leftovers (peers and ports a restarted agent found but nobody re-added) go after this; default 60 s. */
  readonly sweepMs?: number;
  readonly dns?: Dns;
  readonly log?: Logger;
}

export interface KernelDataPath extends DataPath {
  /** The namespace of network `id` (a name under /run/netns), once ensured. */
  namespaceOf(id: string): string | undefined;
  /** Closes sockets and listeners; devices, entries and namespaces stay (a restarted agent adopts them). */
  close(): Promise<void>;
}

export const KernelVxlanCodes = {
  vniRange: 'WEFT_KVXLAN_VNI_RANGE',
  vniInUse: 'WEFT_KVXLAN_VNI_IN_USE',
  noNetwork: 'WEFT_KVXLAN_NO_NETWORK',
  encryption: 'WEFT_KVXLAN_NO_ENCRYPTION',
  unavailable: 'WEFT_KVXLAN_UNAVAILABLE',
  full: 'WEFT_KVXLAN_BRIDGE_FULL',
  kernel: 'WEFT_KVXLAN_KERNEL',
  underlayFamily: 'WEFT_KVXLAN_UNDERLAY_FAMILY',
} as const;
const P = 'kernel-vxlan';

/** A Linux bridge holds at most 1024 ports (BR_MAX_PORTS); vxlan0 takes one. */
const BRIDGE_PORTS = 1023;

interface PortState {
  readonly spec: PortSpec;
  /** The bridge end, in the network's namespace. */
  readonly hostIf: string;
  readonly ifname: string;
  readonly ipv4: number;
  readonly mac: number;
}

interface NetState {
  spec: DataPathNetwork;
  readonly ns: string;
  readonly nl: Netlink;
  readonly br: number;
  readonly vx: number | undefined;
  readonly ports: Map<string, PortState>;
  readonly peers: Map<string, PeerSpec>;
  resolver: Resolver | undefined;
  /** Found in the kernel after a restart and not re-added yet: removed at the sweep. */
  stalePeers: Set<string>;
  stalePorts: Set<string>;
}

const ipOnly = (s: string): string => s.split('/')[0] ?? s;
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

/**
 * The bridge's MAC, i.e. the gateway's: 02:57:46 ("WF") + the VNI, the anycast MAC the userspace
 * switch answers its gateway with; a local-only network (VNI 0) takes 02:57:47 + a hash of its id.
 */
export function bridgeMacFor(n: DataPathNetwork): string {
  let v = n.vni;
  let head = '02:57:46';
  if (v === 0) {
    let h = 0x811c9dc5;
    for (let i = 0; i < n.id.length; i++) h = Math.imul(h ^ n.id.charCodeAt(i), 0x01000193) >>> 0;
    v = h & 0xffffff;
    head = '02:57:47';
  }
  return `${head}:${hex((v >>> 16) & 255, 2)}:${hex((v >>> 8) & 255, 2)}:${hex(v & 255, 2)}`;
}

/** The bridge end of an endpoint's veth: `ve` + a hash of the endpoint ID (@weft/net's interfaceName). */
export function hostIfFor(endpointId: string): string {
  return interfaceName('ve', endpointId);
}

const macNum = (m: string): number => parseInt(m.replace(/:/g, ''), 16);

/**
 * Whether this kernel can carry networks: makes a vxlan device, a bridge and a veth pair in the
 * agent's namespace (never up, so no socket is bound) and deletes them. The reason when it cannot.
 */
export function probeKernel(sys: Sys, ns: string | undefined): string | undefined {
  let nl: Netlink | undefined;
  try {
    nl = openNetlink(sys, ns);
    const tag = (process.pid % 100000).toString(36);
    const tries: [string, NlMessage][] = [
      [`wfkpv${tag}`, nlLinkAdd({ name: `wfkpv${tag}`, kind: 'vxlan', vxlan: { vni: 1, local: '127.0.0.1', port: 4789, proxy: true } })],
      [`wfkpb${tag}`, nlLinkAdd({ name: `wfkpb${tag}`, kind: 'bridge' })],
      [`wfkpe${tag}`, nlLinkAdd({ name: `wfkpe${tag}`, kind: 'veth', peer: { name: `wfkpf${tag}` } })],
    ];
    for (const [name, m] of tries) {
      const [e] = nl.send([m]);
      if (e !== 0 && e !== 17) return `the kernel cannot make a ${name.slice(3, 5) === 'pv' ? 'vxlan' : name.slice(3, 5) === 'pb' ? 'bridge' : 'veth'} device here (errno ${e}${e === 95 ? ', EOPNOTSUPP: is the module loaded?' : ''})`;
      const row = nlLinkList(nl).find((l) => l.name === name);
      if (row !== undefined) nl.send([nlLinkDel(row.index)]);
    }
    return undefined;
  } catch (e) {
    return `rtnetlink is not usable here: ${(e as Error).message}`;
  } finally {
    nl?.close();
  }
}

export async function createKernelDataPath(o: KernelVxlanOptions): Promise<KernelDataPath> {
  const sys = await loadSys();
  const port = o.dataPathPort ?? 4789;
  // The vxlan devices' `local`: IPv4 (IFLA_VXLAN_LOCAL) or IPv6 (IFLA_VXLAN_LOCAL6), and every
  // FDB entry's `dst` of the same family.
  const local = canonicalIP(o.dataPathAddr);
  if (!local.ok) throw new Error(`kernel-vxlan: dataPathAddr ${JSON.stringify(o.dataPathAddr)} is not an IP address: ${local.error}`);
  const localAddr = local.value.text;
  const family = local.value.family;
  const agentNs = o.netns;
  const log = o.log;
  const prefix = o.prefix ?? `wfk-${fs.statSync(agentNs === undefined ? '/proc/self/ns/net' : netnsPath(agentNs)).ino.toString(36)}-`;
  const unavailable = probeKernel(sys, agentNs);
  /** The embedded DNS's sockets in the networks' namespaces (one thread, started on first use). */
  const listeners = createNsListeners({ warn: (m, f) => log?.warn(`kernel-vxlan: ${m}`, f) });
  const nets = new Map<string, NetState>();
  const hostNl = openNetlink(sys, agentNs);
  const sweepMs = o.sweepMs ?? 60_000;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const nsName = (id: string) => `${prefix}${id.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 200);
  const nsExists = (name: string) => fs.existsSync(netnsPath(name));
  const net = (id: string): NetState => {
    const n = nets.get(id);
    if (n === undefined) raise(errors.notFound(P, `Network "${id}" is not set up on this host: call ensureNetwork first`, { code: KernelVxlanCodes.noNetwork, value: id }));
    return n;
  };
  const kernelError = (what: string, e: unknown) =>
    errors.internal(P, `${what}: ${(e as Error).message ?? String(e)}`, { code: KernelVxlanCodes.kernel });

  /** FDB + neighbour entries of one peer. */
  const peerMsgs = (n: NetState, p: PeerSpec): NlMessage[] => {
    const vx = n.vx!;
    const m: NlMessage[] = [nlFdbAdd({ ifindex: vx, mac: p.mac, dst: p.vtep, ...(p.vtepPort !== undefined && p.vtepPort !== port ? { port: p.vtepPort } : {}) })];
    if (p.ipv4 !== undefined && p.ipv4 !== '') m.push(nlNeighAdd({ ifindex: vx, mac: p.mac, dst: ipOnly(p.ipv4) }));
    if (p.ipv6 !== undefined && p.ipv6 !== '') m.push(nlNeighAdd({ ifindex: vx, mac: p.mac, dst: ipOnly(p.ipv6) }));
    return m;
  };
  const unpeerMsgs = (n: NetState, p: { mac: string; ipv4?: string | undefined; ipv6?: string | undefined }): NlMessage[] => {
    const vx = n.vx!;
    const m: NlMessage[] = [nlFdbDel(vx, p.mac)];
    if (p.ipv4 !== undefined && p.ipv4 !== '') m.push(nlNeighDel(vx, ipOnly(p.ipv4)));
    if (p.ipv6 !== undefined && p.ipv6 !== '') m.push(nlNeighDel(vx, ipOnly(p.ipv6)));
    return m;
  };
  /** Sends deletions; entries already gone (ENOENT) are fine. */
  const sendDeletes = (n: NetState, msgs: NlMessage[]) => {
    const errs = n.nl.send(msgs);
    const bad = errs.find((e) => e !== 0 && e !== 2);
    if (bad !== undefined) log?.warn('kernel-vxlan: could not remove an entry', { network: n.spec.id, errno: bad });
  };

  // Every gateway, IPv6 ones too (an IPv6-only network's sandboxes ask its IPv6 gateway).
  const resolverAddrs = (n: DataPathNetwork): string[] =>
    n.resolver === undefined ? n.gateways.map(ipOnly) : n.resolver === '' ? [] : [ipOnly(n.resolver)];

  /** Removes what a restarted agent found and nobody claimed again within `sweepMs`. */
  const sweep = (n: NetState): void => {
    if (nets.get(n.spec.id) !== n) return;
    if (n.vx !== undefined && n.stalePeers.size > 0) {
      const rows = nlNeighList(n.nl, 2).concat(nlNeighList(n.nl, AF_INET6)).filter((r) => r.ifindex === n.vx && r.mac !== undefined && n.stalePeers.has(r.mac));
      const msgs = [...n.stalePeers].map((mac) => nlFdbDel(n.vx!, mac));
      for (const r of rows) if (r.dst !== undefined) msgs.push(nlNeighDel(n.vx!, r.dst));
      sendDeletes(n, msgs);
      log?.info('kernel-vxlan: removed peers nobody re-added after the restart', { network: n.spec.id, peers: n.stalePeers.size });
    }
    if (n.stalePorts.size > 0) {
      const links = nlLinkList(n.nl);
      sendDeletes(n, links.filter((l) => n.stalePorts.has(l.name)).map((l) => nlLinkDel(l.index)));
      log?.info('kernel-vxlan: removed ports nobody re-attached after the restart', { network: n.spec.id, ports: n.stalePorts.size });
    }
    n.stalePeers = new Set();
    n.stalePorts = new Set();
  };

  /** Sweeps what `st` adopted after `sweepMs`, unless re-attached by then. */
  const armSweep = (st: NetState): void => {
    if (st.stalePeers.size === 0 && st.stalePorts.size === 0) return;
    const t = setTimeout(() => {
      timers.delete(t);
      try {
        sweep(st);
      } catch (e) {
        log?.warn('kernel-vxlan: sweep failed', { network: st.spec.id, error: String(e) });
      }
    }, sweepMs);
    t.unref?.();
    timers.add(t);
  };

  /** Makes (or adopts) the namespace, br0 and vxlan0 of `n`; returns the state. */
  function setUp(n: DataPathNetwork): NetState {
    const ns = nsName(n.id);
    const fresh = !nsExists(ns);
    if (fresh) netnsAdd(ns);
    let nl: Netlink | undefined;
    let netFd = -1;
    try {
      nl = openNetlink(sys, ns);
      let links = nlLinkList(nl);
      const lo = links.find((l) => l.name === 'lo');
      const msgs: NlMessage[] = [];
      if (lo !== undefined && !lo.up) msgs.push(nlLinkSet(lo.index, { up: true }));
      const brMac = bridgeMacFor(n);
      let br = links.find((l) => l.name === 'br0' && l.kind === 'bridge');
      if (br === undefined) msgs.push(nlLinkAdd({ name: 'br0', kind: 'bridge', mtu: n.mtu, mac: brMac, up: true }));
      nl.exec(msgs, (i) => `set up the bridge of network "${n.id}" (step ${i})`);
      links = nlLinkList(nl);
      br = links.find((l) => l.name === 'br0')!;
      const setup: NlMessage[] = [nlLinkSet(br.index, { up: true, mtu: n.mtu, mac: brMac })];
      for (const g of n.gateways) setup.push(nlAddrAdd(br.index, g));
      let vx = links.find((l) => l.name === 'vxlan0');
      if (vx !== undefined && (n.vni === 0 || vx.vxlan?.vni !== n.vni || vx.vxlan?.port !== port)) {
        // The network was made again with another VNI or port: the device cannot change them.
        nl.exec([nlLinkDel(vx.index)], () => `remove the old vxlan device of network "${n.id}"`);
        vx = undefined;
      }
      if (n.vni !== 0 && vx === undefined) {
        netFd = openNetnsFd(sys, ns);
        hostNl.exec([nlLinkAdd({ name: 'vxlan0', kind: 'vxlan', mtu: n.mtu, netnsFd: netFd, vxlan: { vni: n.vni, local: localAddr, port, proxy: true } })],
          () => `create vxlan device (VNI ${n.vni}, local ${localAddr}, dstport ${port}) for network "${n.id}"`);
        vx = nlLinkList(nl).find((l) => l.name === 'vxlan0');
        if (vx === undefined) throw new Error('the new vxlan device is not in the network namespace');
      }
      if (vx !== undefined) setup.push(nlLinkSet(vx.index, { master: br.index, mtu: n.mtu, up: true }));
      nl.exec(setup, (i) => `configure network "${n.id}" (step ${i}: ${i === 0 ? 'bridge' : i <= n.gateways.length ? `gateway ${n.gateways[i - 1]}` : 'vxlan device'})`);
      const st: NetState = { spec: n, ns, nl, br: br.index, vx: vx?.index, ports: new Map(), peers: new Map(), resolver: undefined, stalePeers: new Set(), stalePorts: new Set() };
      if (!fresh) {
        // Adopted after a restart: what is there stays until re-added or swept.
        if (vx !== undefined) for (const r of nlNeighList(nl, AF_BRIDGE)) if (r.ifindex === vx.index && (r.flags & NTF_SELF) !== 0 && r.dst !== undefined && r.mac !== undefined) st.stalePeers.add(r.mac);
        for (const l of links) if (l.kind === 'veth' && l.master === br.index) st.stalePorts.add(l.name);
        log?.info('kernel-vxlan: adopted network namespace', { network: n.id, ns, peers: st.stalePeers.size, ports: st.stalePorts.size });
        // Armed by ensureNetwork once the network is fully up (its DNS listening): `sweepMs` counts
        // from when the restarted agent can re-attach, not from when it started setting up.
      }
      return st;
    } catch (e) {
      nl?.close();
      if (fresh) destroyNs(ns);
      throw e;
    } finally {
      if (netFd >= 0) sys.close(netFd);
    }
  }

  function destroyNs(ns: string): void {
    if (!nsExists(ns)) return;
    // vxlan0 first, so its UDP socket in the agent's namespace goes now rather than when the
    // namespace is finally freed; the namespace's devices (veths with their sandbox ends) go with it.
    try {
      const nl = openNetlink(sys, ns);
      try {
        const vx = nlLinkList(nl).find((l) => l.kind === 'vxlan');
        if (vx !== undefined) nl.send([nlLinkDel(vx.index)]);
        const ends = nlLinkList(nl).filter((l) => l.kind === 'veth');
        if (ends.length > 0) nl.send(ends.map((l) => nlLinkDel(l.index)));
      } finally {
        nl.close();
      }
    } catch (e) {
      log?.warn('kernel-vxlan: could not empty the network namespace', { ns, error: String(e) });
    }
    ip(['netns', 'del', ns]);
  }

  const startResolverFor = async (st: NetState): Promise<void> => {
    st.resolver?.close();
    st.resolver = undefined;
    const addrs = resolverAddrs(st.spec);
    if (addrs.length === 0) return;
    st.resolver = await startResolver({
      listeners, ns: st.ns, network: st.spec.id, addrs, ...(o.dnsPort !== undefined ? { port: o.dnsPort } : {}), dns: o.dns,
      macOf: (a) => {
        for (const p of st.ports.values()) if (p.ipv4 === a) return p.mac;
        return undefined;
      },
      macOf6: (text) => {
        const a = parseIP(text);
        if (!a.ok) return undefined;
        for (const p of st.ports.values()) {
          const own = p.spec.ipv6 !== undefined && p.spec.ipv6 !== '' ? parseIP(ipOnly(p.spec.ipv6)) : undefined;
          if (own?.ok === true && own.value.value === a.value.value && own.value.family === 6) return p.mac;
        }
        return undefined;
      },
      ...(log !== undefined ? { log } : {}),
    });
  };

  const linkCounters = (r: LinkRow | undefined): Counters => {
    const s = r?.stats;
    return {
      rx_packets: s?.rx_packets ?? 0, rx_bytes: s?.rx_bytes ?? 0, tx_packets: s?.tx_packets ?? 0, tx_bytes: s?.tx_bytes ?? 0,
      rx_errors: s?.rx_errors ?? 0, tx_errors: s?.tx_errors ?? 0, drop_rx: s?.rx_dropped ?? 0, drop_tx: s?.tx_dropped ?? 0,
    };
  };

  const dp: KernelDataPath = {
    dataplane: 'kernel',
    vtepPort: port,
    ...(unavailable !== undefined ? { unavailable } : {}),
    encrypts: false,
    capacity: { ports: 16384 },
    portCount: () => [...nets.values()].reduce((a, n) => a + n.ports.size, 0),
    placement: (id) => (nets.has(id) ? { dataplane: 'kernel', vtepPort: port } : undefined),
    namespaceOf: (id) => nets.get(id)?.ns,

    async ensureNetwork(n) {
      if (unavailable !== undefined) {
        raise(errors.unsupported(P, `Network "${n.id}" cannot use the kernel data path on this host: ${unavailable}`, { code: KernelVxlanCodes.unavailable, hint: 'use --opt weft.dataplane=userspace (or auto)' }));
      }
      if (!Number.isInteger(n.vni) || n.vni < 0 || n.vni > 0xffffff) {
        raise(errors.badRequest(P, `VNI ${n.vni} of network "${n.id}" is outside 0-16777215 (0 = local only)`, { code: KernelVxlanCodes.vniRange, path: 'vni', value: n.vni }));
      }
      if (n.encrypted) {
        // The kernel path has no ESP here (Docker's encrypted overlay needs xfrm + ESP modules):
        // never carry an "encrypted" network in clear (CVE-2023-28840 class).
        raise(errors.notImplemented(P, `Network "${n.id}" is encrypted, and the kernel data path carries VXLAN in plaintext: refusing rather than sending it in clear`, {
          code: KernelVxlanCodes.encryption, hint: 'encrypted networks run on the userspace switch (--opt weft.dataplane=auto or userspace)',
        }));
      }
      for (const other of nets.values()) {
        if (n.vni !== 0 && other.spec.id !== n.id && other.spec.vni === n.vni) {
          raise(errors.conflict(P, `VNI ${n.vni} of network "${n.id}" is already used by network "${other.spec.id}"`, { code: KernelVxlanCodes.vniInUse, value: n.vni }));
        }
      }
      const old = nets.get(n.id);
      if (old !== undefined && JSON.stringify(old.spec) === JSON.stringify(n)) return;
      if (old !== undefined && old.spec.vni !== n.vni) {
        await dp.removeNetwork(n.id);
      }
      const cur = nets.get(n.id);
      let st: NetState;
      let adopted = false;
      try {
        if (cur !== undefined) {
          // Changed MTU, gateways or resolver: reconfigure in place.
          const msgs: NlMessage[] = [nlLinkSet(cur.br, { mtu: n.mtu })];
          if (cur.vx !== undefined) msgs.push(nlLinkSet(cur.vx, { mtu: n.mtu }));
          for (const g of n.gateways) msgs.push(nlAddrAdd(cur.br, g));
          cur.nl.exec(msgs, (i) => `reconfigure network "${n.id}" (step ${i})`);
          cur.spec = n;
          st = cur;
        } else {
          st = setUp(n);
          adopted = true;
        }
      } catch (e) {
        raise(kernelError(`Cannot set up network "${n.id}" on the kernel data path`, e));
      }
      nets.set(n.id, st);
      try {
        await startResolverFor(st);
      } catch (e) {
        log?.error('kernel-vxlan: the embedded DNS cannot listen in the network namespace; names will not resolve there', { network: n.id, error: String(e) });
      }
      if (adopted) armSweep(st);
    },

    async removeNetwork(id) {
      const n = nets.get(id);
      if (n !== undefined) {
        n.resolver?.close();
        n.nl.close();
        nets.delete(id);
      }
      try {
        destroyNs(nsName(id));
      } catch (e) {
        raise(kernelError(`Cannot remove the namespace of network "${id}"`, e));
      }
    },

    async addPort(p) {
      const n = net(p.network);
      const existing = n.ports.get(p.endpointId);
      if (existing !== undefined) return { ifname: existing.ifname };
      const hostIf = hostIfFor(p.endpointId);
      const inner = p.netns !== undefined ? (p.dstName ?? p.ifname) : p.ifname;
      const where = p.netns ?? agentNs;
      const mtu = n.spec.mtu;
      const links = nlLinkList(n.nl);
      const row = links.find((l) => l.name === hostIf);
      const end = row?.kind === 'veth' ? row : undefined;
      const innerThere = linkIndex(sys, inner, where) !== undefined;
      // A veth never outlives its peer, so a bridge end means the pair is whole. Without a sandbox
      // (Docker) the other end was made in the agent's namespace for its owner to move and rename
      // (Docker puts it in the container as eth<n>): wherever it is now, it is this endpoint's.
      if (end !== undefined && (innerThere || p.netns === undefined)) {
        // Re-attach after an agent restart: the pair is there and carried traffic all along.
        n.stalePorts.delete(hostIf);
        if (end.master !== n.br || !end.up) n.nl.exec([nlLinkSet(end.index, { master: n.br, up: true })], () => `re-attach ${hostIf} to br0`);
        log?.info('kernel-vxlan: re-attached veth', { ifname: innerThere ? inner : `(moved by its owner from ${inner})`, network: p.network, ...(p.netns !== undefined ? { netns: p.netns } : {}) });
      } else {
        if (links.filter((l) => l.master === n.br && l.kind === 'veth').length >= BRIDGE_PORTS) {
          raise(errors.unavailable(P, `Network "${p.network}" has ${BRIDGE_PORTS} ports on this host, the most a Linux bridge holds`, { code: KernelVxlanCodes.full, hint: 'use --opt weft.dataplane=userspace for networks with more local endpoints per host' }));
        }
        // A pair whose sandbox end is not where this port wants it (moved or renamed in the sandbox): made again.
        if (row !== undefined) n.nl.send([nlLinkDel(row.index)]);
        if (innerThere) {
          // A device of that name from another data path (a TAP left by the userspace switch): replace it.
          const snl = openNetlink(sys, where);
          try {
            const row = nlLinkList(snl).find((l) => l.name === inner);
            if (row !== undefined) snl.send([nlLinkDel(row.index)]);
          } finally {
            snl.close();
          }
        }
        const fd = where === undefined ? openNetnsFd(sys, '/proc/thread-self/ns/net') : openNetnsFd(sys, where);
        try {
          n.nl.exec([nlLinkAdd({ name: hostIf, kind: 'veth', master: n.br, up: true, mtu, peer: { name: inner, mac: p.mac, mtu, netnsFd: fd } })],
            () => `create veth ${hostIf} with ${inner} in ${where ?? "the agent's namespace"}`);
        } catch (e) {
          raise(kernelError(`Cannot attach endpoint "${p.endpointId}" to network "${p.network}"`, e));
        } finally {
          sys.close(fd);
        }
        try {
          if (p.netns !== undefined) {
            const v4 = p.ipv4 !== undefined && p.ipv4.includes('/');
            const gw = n.spec.gateways.find((g) => !g.includes(':'));
            configureLink(sys, inner, { up: true, ...(v4 ? { ipv4: p.ipv4! } : {}), ...(v4 && gw !== undefined && !n.spec.internal ? { gateway: ipOnly(gw) } : {}) }, p.netns);
            if (p.ipv6 !== undefined && p.ipv6.includes('/')) {
              const snl = openNetlink(sys, p.netns);
              try {
                const idx = linkIndex(sys, inner, p.netns)!;
                snl.exec([nlAddrAdd(idx, p.ipv6)], () => `add ${p.ipv6} to ${inner}`);
              } finally {
                snl.close();
              }
              // The IPv6 default route via br0's IPv6 gateway address, unless internal or the
              // sandbox has one already (its first network keeps it, as for IPv4).
              const gw6 = n.spec.gateways.find((g) => g.includes(':'));
              if (gw6 !== undefined && !n.spec.internal && ip(['-6', 'route', 'show', 'default'], p.netns).trim() === '') {
                ip(['-6', 'route', 'replace', 'default', 'via', ipOnly(gw6), 'dev', inner], p.netns);
              }
            }
          } else configureLink(sys, inner, { up: true }, agentNs);
        } catch (e) {
          const row = nlLinkList(n.nl).find((l) => l.name === hostIf);
          if (row !== undefined) n.nl.send([nlLinkDel(row.index)]);
          throw e;
        }
      }
      n.ports.set(p.endpointId, { spec: p, hostIf, ifname: inner, ipv4: p.ipv4 !== undefined && p.ipv4 !== '' ? parseIPv4(ipOnly(p.ipv4)) : 0, mac: macNum(p.mac) });
      return { ifname: inner };
    },

    async removePort(network, endpointId) {
      const n = nets.get(network);
      const p = n?.ports.get(endpointId);
      if (n === undefined || p === undefined) return;
      n.ports.delete(endpointId);
      const row = nlLinkList(n.nl).find((l) => l.name === p.hostIf);
      if (row !== undefined) sendDeletes(n, [nlLinkDel(row.index)]);
    },

    addPeer(p) {
      const n = net(p.network);
      if (n.vx === undefined) {
        raise(errors.badRequest(P, `Network "${n.spec.id}" is local only (VNI 0): it has no VXLAN peers`, { code: KernelVxlanCodes.vniRange, value: p.vtep, hint: 'Use an overlay network for peers on other hosts.' }));
      }
      const pv = canonicalIP(p.vtep);
      if (!pv.ok) raise(errors.badRequest(P, `Peer ${p.mac} in network "${n.spec.id}": VTEP ${JSON.stringify(p.vtep)} is not an IP address`, { code: KernelVxlanCodes.underlayFamily, value: p.vtep }));
      if (pv.ok && pv.value.family !== family) {
        raise(errors.badRequest(P, vtepFamilyMismatch(p, n.spec.id, pv.value.family, localAddr, family), { code: KernelVxlanCodes.underlayFamily, value: p.vtep, hint: VTEP_FAMILY_HINT }));
      }
      const mac = p.mac.toLowerCase();
      const old = n.peers.get(mac);
      const msgs: NlMessage[] = [];
      if (old !== undefined && old.ipv4 !== undefined && old.ipv4 !== p.ipv4) msgs.push(nlNeighDel(n.vx, ipOnly(old.ipv4)));
      if (old !== undefined && old.ipv6 !== undefined && old.ipv6 !== p.ipv6) msgs.push(nlNeighDel(n.vx, ipOnly(old.ipv6)));
      if (msgs.length > 0) sendDeletes(n, msgs);
      try {
        n.nl.exec(peerMsgs(n, p), (i) => `program peer ${mac} (${i === 0 ? `FDB entry to ${p.vtep}` : 'neighbour entry'}) in network "${p.network}"`);
      } catch (e) {
        raise(kernelError('Cannot add peer', e));
      }
      n.stalePeers.delete(mac);
      n.peers.set(mac, { ...p, mac });
    },

    removePeer(network, mac) {
      const n = nets.get(network);
      const m = mac.toLowerCase();
      const p = n?.peers.get(m);
      if (n === undefined || p === undefined) return;
      n.peers.delete(m);
      sendDeletes(n, unpeerMsgs(n, p));
    },

    counters(network) {
      const out: Record<string, Counters> = {};
      for (const n of nets.values()) {
        if (network !== undefined && n.spec.id !== network) continue;
        let links: LinkRow[];
        try {
          links = nlLinkList(n.nl);
        } catch {
          continue;
        }
        const by = new Map(links.map((l) => [l.name, l]));
        // A port's rx is what its sandbox sent (the bridge end receives it), as on the userspace switch.
        for (const [id, p] of n.ports) out[`port/${id}`] = linkCounters(by.get(p.hostIf));
        if (n.vx !== undefined) out[`vxlan/${n.spec.id}`] = linkCounters(by.get('vxlan0'));
        if (n.resolver !== undefined) out[`dns/${n.spec.id}`] = { ...n.resolver.counters };
      }
      return out;
    },

    /**
     * The kernel's own statistics, read through netlink: `ports` sums the veths of the sandboxes
     * attached now (a removed veth takes its counters with it), `peers` is the vxlan device (frames
     * to and from every remote VTEP of the network). The kernel keeps no counters per FDB entry, so
     * each peer is listed with empty counters; no encryption, so no VTEP sessions.
     */
    stats(): DataPathStats {
      const networks: NetworkStats[] = [];
      for (const n of nets.values()) {
        let links: LinkRow[];
        try {
          links = nlLinkList(n.nl);
        } catch {
          links = [];
        }
        const by = new Map(links.map((l) => [l.name, l]));
        const ports: Record<string, number> = {};
        for (const p of n.ports.values()) for (const [k, v] of Object.entries(linkCounters(by.get(p.hostIf)))) ports[k] = (ports[k] ?? 0) + v;
        networks.push({
          id: n.spec.id,
          ports,
          peers: n.vx !== undefined ? linkCounters(by.get('vxlan0')) : {},
          peerList: [...n.peers.values()].map((p) => ({
            mac: p.mac, ...(p.ipv4 !== undefined ? { ipv4: p.ipv4 } : {}), vtep: p.vtep, vtepPort: p.vtepPort ?? port,
            ...(p.node !== undefined ? { node: p.node } : {}), ...(p.name !== undefined ? { name: p.name } : {}), external: p.external ?? false, counters: {},
          })),
        });
      }
      return { host: {}, networks, vteps: [] };
    },

    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const n of nets.values()) {
        n.resolver?.close();
        n.nl.close();
      }
      nets.clear();
      hostNl.close();
      await listeners.stop();
    },
  };
  return dp;
}
