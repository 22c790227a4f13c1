/**
 * The controller: implements the kernel's DataPath contract on the main thread (tables, TAP and
 * socket lifecycle) and runs the per-packet work on worker threads (`worker.ts`).
 *
 * Layout per host: one VXLAN receive socket on dataPathAddr:dataPathPort shared by all networks
 * (demultiplexed by VNI), N send sockets on ephemeral ports (the inner flow hash picks one, which
 * gives the per-flow UDP source port RFC 7348 §5 asks for), one worker per TAP and one receive
 * worker. Tables are static (no flood-and-learn): local ports and peers come from the control
 * plane; ARP is answered from them.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { errors, raise, type Cipher, type Counters, type DataPath, type DataPathStats, type Dns, type DnsAnswerResult, type KeyRing, type DataPathNetwork, type Logger, type PeerSpec, type PortSpec } from '@weft/kernel';
import {
  EEXIST, EFD_CLOEXEC, EFD_NONBLOCK, SysError, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VNET_HDR_LEN, addrDev, configureLink, ip, linkIndex, linkMtu, loadSys, nlAddrAdd,
  nlLinkSet, nlRouteAdd, openNetlink, openTap, parseIPv4, parseIPv6Bytes, setTapPersist, udpSocket, withNetns, workerSource, type Netlink, type Sys,
} from '@weft/sys';
import { canonicalIP, formatCidr, parseCidr, vtepFamilyMismatch, VTEP_FAMILY_HINT, vxlanOverhead } from '@weft/net';
import {
  C, COUNTER_FIELDS, COUNTER_SLOTS, CTL_ACK, CTL_GEN, CTL_STOP, GAUGE_FIELDS, K, MAX_PEERS, MAX_PORTS, MAX_VTEPS, globalRow, macToNum, numToMac, peerRow, portRow, vtepKey6, vtepRow,
  type RingMsg, type SnapPeer, type SnapPort, type Snapshot, type TableMsg, type WorkerInit,
} from './layout.ts';
import { buildDnsReply, dnsPayload, readDnsClient, type DnsQueryMsg, type MutableDnsClient } from './dns.ts';

export interface VxlanOptions {
  /** Underlay address of this host's VTEP (`--data-path-addr`). */
  readonly dataPathAddr: string;
  /** UDP port (`--data-path-port`); default 4789 (IANA). */
  readonly dataPathPort?: number;
  /** Namespace the agent's VTEP and new TAPs live in; default the agent's own. */
  readonly netns?: string;
  /** TSO super-frames on the TAP, userspace segmentation, UDP_SEGMENT/UDP_GRO. Default true. */
  readonly offload?: boolean;
  /** Send sockets, i.e. distinct UDP source ports flows are hashed over. Default 8. */
  readonly sourcePorts?: number;
  /** Socket buffer sizes; default 4 MiB. */
  readonly socketBuffer?: number;
  /**
   * Busy-poll this many microseconds after the last packet before sleeping (default 0: off),
   * yielding the CPU to any other runnable thread meanwhile. A reply that comes back within the
   * spin then costs no thread wake-up. Bounded by `spinBudget`.
   */
  readonly spinUs?: number;
  /**
   * At most this fraction of a core per data-path thread goes on busy-polling, counted over each
   * second (default 0.05). Past it, the thread sleeps at once until the next second, so a steady
   * stream of requests cannot turn `spinUs` into a core spent polling.
   */
  readonly spinBudget?: number;
  /**
   * While traffic is recent (the last second), wake every `warmUs` microseconds even with nothing
   * to do (default 0: off). The data path's code and data then stay in the CPU's caches and TLB,
   * which after a pause cost more than the work itself (see docs/benchmarks.md, "Warm ticks":
   * 1000 µs took the RTT of pings 10 ms apart from kernel + 191–241 µs to kernel + 65–133 µs), for
   * about 1e6/warmUs wake-ups a second per host while traffic lasts.
   */
  readonly warmUs?: number;
  /**
   * Compute inner TCP checksums of segmented super-frames for Weft peers too (default false:
   * only for `external` peers; a Weft receiver re-derives them, the outer UDP checksum covers
   * the wire).
   */
  readonly innerChecksums?: boolean;
  /**
   * Data-path threads per host: 1 runs VXLAN receive and all TAPs in one loop (default), 2 gives
   * VXLAN receive its own thread (more parallelism, one more wake-up per packet).
   */
  readonly threads?: 1 | 2;
  /**
   * Encrypted networks: seal a TCP super-frame read from a TAP as one envelope and send it as
   * fragments (see frag.ts and docs/wire.md) instead of sealing each segment (default true). One
   * seal per 64 KiB instead of per datagram; a lost fragment loses the whole super-frame. Both
   * ends must run a Weft version that reassembles fragments.
   */
  readonly superSeal?: boolean;
  /** Scatter-gather I/O (sendmsg/writev iovecs) for segmentation and coalescing instead of userspace copies. Default false: measured 5-12% slower here (kernel per-iovec cost > one memcpy). */
  readonly gather?: boolean;
  /**
   * Nice value for the data-path threads (default 0). A negative value (needs CAP_SYS_NICE) shortens
   * wake-up latency when the host's cores are contended.
   */
  readonly nice?: number;
  /**
   * The `dns` service: UDP/53 from sandboxes to the network's resolver (the gateway, or
   * `DataPathNetwork.resolver`) is answered through it. Absent: such queries are dropped and
   * counted (`dns_drops`).
   */
  readonly dns?: Dns;
  /**
   * The `cipher` service. When it offers `onKeyRing` and `worker`, the data path encrypts
   * (`encrypts: true`): each worker thread builds its own cipher instance from `worker.module`
   * (`loadWorkerCipher`), and every ring installed here is forwarded to it. Without both,
   * encrypted networks are refused. The data path never imports a cipher implementation.
   */
  readonly cipher?: Cipher;
  readonly log?: Logger;
}

export interface VxlanDataPath extends DataPath {
  /** Stops the workers and closes fds. Persistent TAPs stay, so a restarted agent re-attaches. */
  close(): Promise<void>;
  /** The gateway MAC the switch answers with in network `id`. */
  gatewayMac(id: string): string | undefined;
}

/** Overhead of VXLAN over IPv4: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (over IPv6, 70: `vxlanOverhead` of @weft/net). */
export const VXLAN_OVERHEAD = 50;
export const DEFAULT_MTU = 1450;
/** Ids of local-only networks inside the worker start here: above any 24-bit VNI. */
export const LOCAL_VNI_BASE = 0x1000000;

/** Error codes this plugin raises (WeftException carrying a WeftError). */
export const VxlanCodes = {
  underlayMtu: 'WEFT_VXLAN_UNDERLAY_MTU',
  vniRange: 'WEFT_VXLAN_VNI_RANGE',
  vniInUse: 'WEFT_VXLAN_VNI_IN_USE',
  noNetwork: 'WEFT_VXLAN_NO_NETWORK',
  full: 'WEFT_VXLAN_TABLE_FULL',
  encryption: 'WEFT_VXLAN_NO_ENCRYPTION',
  underlayFamily: 'WEFT_VXLAN_UNDERLAY_FAMILY',
} as const;
const P = 'vxlan';

interface WorkerHandle {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly ctl: Int32Array;
  readonly wakeFd: number;
  readonly counters: Float64Array;
  readonly exited: Promise<void>;
}

interface PortState {
  readonly spec: PortSpec;
  readonly fd: number;
  readonly slot: number;
  readonly mac: number;
  readonly ipv4: number;
  readonly ifname: string;
}

interface PeerState {
  readonly spec: PeerSpec;
  readonly slot: number;
  readonly mac: number;
  /** Row slot of its VTEP (shared by the peers behind it). */
  readonly vslot: number;
}

interface NetState {
  /** The VNI the worker uses: the network's own, or for a local-only network (VNI 0) an id above 2^24 that no VXLAN header can carry. */
  readonly wireVni: number;
  readonly spec: DataPathNetwork;
  readonly gwMac: number;
  readonly gwIps: number[];
  readonly gwIps6: string[];
  readonly dnsIps: number[];
  readonly dnsIps6: string[];
  readonly ports: Map<string, PortState>;
  readonly peers: Map<number, PeerState>;
  /** Final counters of removed ports and peers, so the network's sums never go back. */
  readonly retiredPorts: Float64Array;
  readonly retiredPeers: Float64Array;
  /** Shared namespaces where a live port of this network holds its routes (`claimRoutes`): new ports there skip the claim. */
  readonly routed: Set<string>;
}

const ipOnly = (s: string): string => s.split('/')[0] ?? s;

/** Atomics.waitAsync (ES2024; Node 20 and Deno have it, the TypeScript lib here does not declare it). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** 02:57:46 ("WF") + VNI: a locally administered anycast gateway MAC, the same on every host. */
export const gatewayMacFor = (vni: number): string => numToMac(0x025746000000 + (vni & 0xffffff));

/**
 * The low-latency settings (the agent's default, `--data-path-latency low`): warm ticks every
 * millisecond while traffic is recent, and a 300 µs busy-poll after traffic within the default
 * 5 % budget. Measured here: RTT of pings 10 ms apart kernel + 56–77 µs (medians of batches of
 * 4–8 runs) instead of + 247–253 µs, for about 4 % of a core per host at 10–100 packets/s and
 * 10 % at 1000/s (1.3–4.7 % without), nothing once traffic stops (docs/benchmarks.md). The
 * library's own defaults leave both off.
 */
export const LOW_LATENCY = { warmUs: 1000, spinUs: 300 } as const;

export async function createVxlanDataPath(o: VxlanOptions): Promise<VxlanDataPath> {
  // Checked before any socket exists, so a bad value leaves nothing behind.
  const spinBudget = o.spinBudget ?? 0.05;
  if (!(spinBudget >= 0 && spinBudget <= 1)) throw new Error(`vxlan: spinBudget ${o.spinBudget} must be a fraction of a core from 0 to 1 (e.g. 0.05)`);
  const warmUs = o.warmUs ?? 0;
  if (!Number.isInteger(warmUs) || warmUs < 0 || warmUs > 1_000_000) throw new Error(`vxlan: warmUs ${o.warmUs} must be an integer number of microseconds, 0 (off) to 1000000`);
  const sys: Sys = await loadSys();
  const port = o.dataPathPort ?? 4789;
  const offload = o.offload ?? true;
  const agentNs = o.netns;
  const bufSize = o.socketBuffer ?? 4 << 20;
  const log = o.log;
  // One family per host: the sockets are AF_INET or AF_INET6, and so is every peer's VTEP.
  const local = canonicalIP(o.dataPathAddr);
  if (!local.ok) throw new Error(`vxlan: dataPathAddr ${JSON.stringify(o.dataPathAddr)} is not an IP address: ${local.error}`);
  const localAddr = local.value.text;
  const family = local.value.family;
  const familyName = `IPv${family}`;
  const recvFd = withNetns(sys, agentNs, () => udpSocket(sys, { addr: localAddr, port, rcvbuf: bufSize, sndbuf: bufSize, gro: offload, nonblock: true }));
  const sendFds: number[] = [];
  for (let i = 0; i < (o.sourcePorts ?? 8); i++) sendFds.push(withNetns(sys, agentNs, () => udpSocket(sys, { addr: localAddr, port: 0, sndbuf: bufSize })));
  const nets = new Map<string, NetState>();
  let nextLocal = 1;
  const workers = new Set<WorkerHandle>();
  const freePortSlots: number[] = Array.from({ length: MAX_PORTS }, (_, i) => MAX_PORTS - 1 - i);
  const freePeerSlots: number[] = Array.from({ length: MAX_PEERS }, (_, i) => MAX_PEERS - 1 - i);
  const freeVtepSlots: number[] = Array.from({ length: MAX_VTEPS }, (_, i) => MAX_VTEPS - 1 - i);
  /** Remote VTEPs (`addr:port`) with their row slot and how many peers stand behind each. */
  const vteps = new Map<string, { slot: number; refs: number; addr: string }>();
  const vtepKey = (p: PeerSpec): string => `${vtepAddr(p)}:${p.vtepPort ?? port}`;
  /** A peer's VTEP in canonical text (static peers may be written otherwise). */
  const vtepAddr = (p: PeerSpec): string => {
    const r = canonicalIP(p.vtep);
    return r.ok ? r.value.text : p.vtep;
  };
  /** IPv6 underlay: each `vtepKey6` and the address holding it, with how many VTEP entries (ports) use it. */
  const keys6 = new Map<number, { addr: string; refs: number }>();
  /** The row slot of `p`'s VTEP, taking one (zeroed) for a VTEP not seen yet. */
  const holdVtep = (p: PeerSpec): number => {
    const k = vtepKey(p);
    const v = vteps.get(k);
    if (v !== undefined) {
      v.refs++;
      return v.slot;
    }
    const addr = vtepAddr(p);
    let k6: number | undefined;
    if (family === 6) {
      k6 = vtepKey6(parseIPv6Bytes(addr), 0);
      const held = keys6.get(k6);
      if (held !== undefined && held.addr !== addr) {
        raise(errors.unavailable(P, `VTEP ${addr} cannot be told apart from VTEP ${held.addr} by this host's 32-bit key of IPv6 underlay addresses (both ${k6.toString(16)})`, {
          code: VxlanCodes.full, value: addr, hint: `Give one of the two hosts another --data-path-addr.`,
        }));
      }
    }
    const slot = freeVtepSlots.pop();
    if (slot === undefined) raise(errors.unavailable(P, `No free VTEP slot (at most ${MAX_VTEPS} remote VTEPs per host)`, { code: VxlanCodes.full }));
    if (k6 !== undefined) {
      const held = keys6.get(k6);
      if (held !== undefined) held.refs++;
      else keys6.set(k6, { addr, refs: 1 });
    }
    zeroRow(vtepRow(slot));
    vteps.set(k, { slot, refs: 1, addr });
    return slot;
  };
  /** Drops one reference to `p`'s VTEP; true when it was the last (its slot is free again). */
  const releaseVtep = (p: PeerSpec): boolean => {
    const k = vtepKey(p);
    const v = vteps.get(k);
    if (v === undefined || --v.refs > 0) return false;
    vteps.delete(k);
    freeVtepSlots.push(v.slot);
    if (family === 6) {
      const k6 = vtepKey6(parseIPv6Bytes(v.addr), 0);
      const held = keys6.get(k6);
      if (held !== undefined && --held.refs === 0) keys6.delete(k6);
    }
    return true;
  };
  const src = workerSource(new URL('./worker.ts', import.meta.url));
  // Each worker builds its own cipher from the module the service names, and mirrors its ring.
  const cipherWorker = typeof o.cipher?.onKeyRing === 'function' ? o.cipher.worker : undefined;
  const encrypts = cipherWorker !== undefined;
  const envelope = encrypts ? o.cipher!.overhead : 0;
  let ring: KeyRing | undefined;

  const snapshot = (): Snapshot => ({
    nets: [...nets.values()].map((n) => ({
      vni: n.wireVni,
      encrypted: n.spec.encrypted,
      mtu: n.spec.mtu,
      gwMac: n.gwMac,
      gwIps: n.gwIps,
      gwIps6: n.gwIps6,
      dnsIps: n.dnsIps,
      dnsIps6: n.dnsIps6,
      ports: [...n.ports.values()].map(snapPort),
      peers: [...n.peers.values()].map(snapPeer),
    })),
  });
  const snapPort = (p: PortState): SnapPort => ({ slot: p.slot, fd: p.fd, mac: p.mac, ipv4: p.ipv4, ipv6: p.spec.ipv6 !== undefined ? ipOnly(p.spec.ipv6) : '' });
  const snapPeer = (p: PeerState): SnapPeer => ({
    slot: p.slot, mac: p.mac, fullCsum: p.spec.external === true || p.spec.dataplane === 'kernel' || o.innerChecksums === true,
    ipv6: p.spec.ipv6 !== undefined ? ipOnly(p.spec.ipv6) : '', ipv4: p.spec.ipv4 !== undefined ? parseIPv4(ipOnly(p.spec.ipv4)) : 0,
    ...vtepNum(p.spec), port: p.spec.vtepPort ?? port, vslot: p.vslot,
  });
  /** The worker's key of a peer's VTEP (see `SnapPeer.vtep`). */
  const vtepNum = (p: PeerSpec): { vtep: number; vtep6: string } => {
    if (family === 4) return { vtep: parseIPv4(p.vtep), vtep6: '' };
    const addr = vtepAddr(p);
    return { vtep: vtepKey6(parseIPv6Bytes(addr), 0), vtep6: addr };
  };

  const one = sys.alloc(8);
  one.bytes[0] = 1;
  /** Posts a full snapshot or a delta to every worker and wakes it (eventfd) if it sleeps. */
  const post = (m: Snapshot | TableMsg): void => {
    for (const w of workers) {
      w.port.postMessage(m);
      Atomics.add(w.ctl, CTL_GEN, 1);
      sys.write(w.wakeFd, one.addr, 8);
    }
  };
  const publish = (): void => post(snapshot());

  /** Waits until every worker applied what was posted (so a removed fd is no longer in use). */
  const settle = async (): Promise<void> => {
    const deadline = Date.now() + 2000;
    // A pending waitAsync does not keep the event loop alive (the workers are unref'd): a timer does.
    const keep = setTimeout(() => undefined, 2000);
    try {
      for (const w of workers) {
        const g = Atomics.load(w.ctl, CTL_GEN);
        for (let a = Atomics.load(w.ctl, CTL_ACK); a !== g && Date.now() < deadline; a = Atomics.load(w.ctl, CTL_ACK)) {
          const r = waitAsync(w.ctl, CTL_ACK, a, Math.max(1, deadline - Date.now()));
          if (r.async) await r.value;
        }
      }
    } finally {
      clearTimeout(keep);
    }
  };

  const zeroRow = (row: number): void => {
    for (const w of workers) w.counters.fill(0, row, row + K);
  };
  /** A row over every worker: counters summed, gauges (GAUGE_FIELDS) the largest. */
  const readRow = (row: number, into?: Float64Array): Float64Array => {
    const out = into ?? new Float64Array(K);
    for (let i = 0; i < K; i++) {
      const gauge = GAUGE_FIELDS.has(COUNTER_FIELDS[i]!);
      let v = 0;
      for (const w of workers) {
        const x = w.counters[row + i] ?? 0;
        v = gauge ? Math.max(v, x) : v + x;
      }
      out[i] = into !== undefined && !gauge ? out[i]! + v : v;
    }
    return out;
  };
  const named = (a: Float64Array): Counters => {
    const c: Record<string, number> = {};
    COUNTER_FIELDS.forEach((name, i) => {
      if (!GAUGE_FIELDS.has(name)) c[name] = a[i]!;
    });
    return c;
  };

  async function startWorker(init: Omit<WorkerInit, 'ctl' | 'wakeFd' | 'counters' | 'snapshot' | 'cipher' | 'localId' | 'family' | 'ring'>): Promise<WorkerHandle> {
    const ctlSab = new SharedArrayBuffer(16);
    new Int32Array(ctlSab)[CTL_ACK] = -1;
    const wakeFd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd < 0) throw new Error(`vxlan: eventfd failed (errno ${sys.errno()})`);
    const cntSab = new SharedArrayBuffer(COUNTER_SLOTS * 8);
    const { port1, port2 } = new MessageChannel();
    const data = { ...init, ctl: ctlSab, wakeFd, counters: cntSab, snapshot: snapshot(), port: port2, ...(cipherWorker !== undefined ? { cipher: cipherWorker } : {}), localId: localAddr, family, ...(ring !== undefined ? { ring } : {}) };
    const worker = 'code' in src
      ? new Worker(src.code, { eval: true, workerData: data, transferList: [port2] })
      : new Worker(src.url, { workerData: data, transferList: [port2] });
    const ready = new Promise<void>((res, rej) => {
      worker.once('message', () => res());
      worker.once('error', rej);
      worker.once('exit', (c) => rej(new Error(`vxlan: data-path worker exited with code ${c} before it was ready`)));
    });
    const exited = new Promise<void>((res) => worker.once('exit', () => res()));
    worker.once('exit', (code) => {
      if (Atomics.load(h.ctl, CTL_STOP) === 0) log?.error('vxlan: data-path worker exited unexpectedly; traffic stops until the agent restarts', { code });
    });
    worker.on('error', (e) => log?.error('vxlan: data-path worker failed', { error: String(e) }));
    worker.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'dns') onDnsQuery(h, m as DnsQueryMsg);
    });
    const h: WorkerHandle = { worker, port: port1, ctl: new Int32Array(ctlSab), wakeFd, counters: new Float64Array(cntSab), exited };
    workers.add(h);
    try {
      await ready;
      worker.unref();
    } catch (e) {
      workers.delete(h);
      throw e;
    }
    return h;
  }

  async function stopWorker(h: WorkerHandle): Promise<void> {
    Atomics.store(h.ctl, CTL_STOP, 1);
    await Promise.race([h.exited, new Promise((r) => setTimeout(r, 2000))]);
    await h.worker.terminate();
    h.port.close();
    sys.close(h.wakeFd);
    workers.delete(h);
  }

  // Every ring the control plane installs in the cipher reaches the workers' ciphers, in order.
  const unsubscribeRing = !encrypts ? undefined : o.cipher!.onKeyRing!((r) => {
    ring = r;
    log?.info('vxlan: key ring handed to the data-path workers', { epochs: r.keys.map((k) => k.epoch).join(','), primary: r.keys[r.primary]?.epoch });
    const msg: RingMsg = { t: 'ring', ring: r };
    for (const w of workers) {
      w.port.postMessage(msg);
      Atomics.add(w.ctl, CTL_GEN, 1);
      sys.write(w.wakeFd, one.addr, 8);
    }
  });

  const spinUs = o.spinUs ?? 0;
  const split = o.threads === 2;
  const gather = o.gather ?? false;
  const nice = o.nice ?? 0;
  const superSeal = o.superSeal ?? true;
  const main = await startWorker({ udpFd: recvFd, sendFds, offload, spinUs, spinBudget, warmUs, gather, nice, superSeal, mode: split ? 'taps' : 'all' });
  const rxOnly = split ? await startWorker({ udpFd: recvFd, sendFds, offload, spinUs, spinBudget, warmUs, gather, nice, superSeal, mode: 'udp' }) : undefined;

  // The underlay device is looked up once (an `ip` process); its MTU is read by ioctl on every addPort.
  let ulDev: string | undefined;
  function underlayMtu(): { dev: string; mtu: number } | undefined {
    for (let i = 0; i < 2; i++) {
      ulDev ??= addrDev(localAddr, agentNs);
      if (ulDev === undefined) return undefined;
      try {
        return { dev: ulDev, mtu: linkMtu(sys, ulDev, agentNs) };
      } catch {
        ulDev = undefined; // renamed or gone: look it up again
      }
    }
    return undefined;
  }

  const net = (id: string): NetState => {
    const n = nets.get(id);
    if (n === undefined) raise(errors.notFound(P, `Network "${id}" is not set up on this host: call ensureNetwork first`, { code: VxlanCodes.noNetwork, value: id }));
    return n;
  };

  // Embedded DNS (see dns.ts): queries arrive from the workers, replies are written to the TAP here.
  const dnsOut = sys.alloc(VNET_HDR_LEN + 65536 + 64);
  /** Who asked, refilled for each query (the service reads it during `answer` only). */
  const dnsClient: MutableDnsClient = { ipv4: 0, mac: 0, ipv6: undefined };
  /** Port by slot (DNS replies find the querying port from its counter row). */
  const bySlot: ({ net: NetState; port: PortState } | undefined)[] = [];
  const dnsFor = (vni: number, row: number): { net: NetState; port: PortState } | undefined => {
    const at = bySlot[row / K - 1];
    return at !== undefined && at.net.wireVni === vni ? at : undefined;
  };
  const dnsReply = (h: WorkerHandle, m: DnsQueryMsg, reply: Uint8Array | undefined): void => {
    const c = h.counters;
    const at = dnsFor(m.vni, m.row); // the port may have gone while a forward was pending
    if (reply === undefined || at === undefined || reply.length > 65000) {
      c[m.row + C.dns_drops]! += 1;
      return;
    }
    dnsOut.bytes.fill(0, 0, VNET_HDR_LEN);
    const len = buildDnsReply(m.frame, reply, at.net.gwMac, dnsOut.bytes, VNET_HDR_LEN);
    if (sys.write(at.port.fd, dnsOut.addr, VNET_HDR_LEN + len) < 0) c[m.row + C.drop_io]! += 1;
    else c[m.row + C.dns_answers]! += 1;
  };
  function onDnsQuery(h: WorkerHandle, m: DnsQueryMsg): void {
    const c = h.counters;
    const at = dnsFor(m.vni, m.row);
    const q = dnsPayload(m.frame);
    if (o.dns === undefined || at === undefined || q === undefined) {
      c[m.row + C.dns_drops]! += 1;
      return;
    }
    const dns = o.dns;
    let r: DnsAnswerResult;
    try {
      r = dns.answer(q, at.net.spec.id, q.length, readDnsClient(m.frame, dnsClient));
    } catch (e) {
      log?.warn('vxlan: dns service failed to answer', { error: String(e) });
      r = 'drop';
    }
    if (r === 'drop') c[m.row + C.dns_drops]! += 1;
    else if (r === 'forward') {
      c[m.row + C.dns_forwarded]! += 1;
      dns.forward(q, q.length).then((b) => dnsReply(h, m, b), (e: unknown) => {
        log?.warn('vxlan: dns forward failed', { error: String(e) });
        dnsReply(h, m, undefined);
      });
    } else dnsReply(h, m, r);
  }

  const dp: VxlanDataPath = {
    dataplane: 'userspace',
    vtepPort: port,
    placement: (id) => (nets.has(id) ? { dataplane: 'userspace', vtepPort: port } : undefined),
    encrypts,
    // What the shared tables hold (layout.ts); the scale guard warns before it is reached.
    capacity: { ports: MAX_PORTS },
    portCount: () => [...nets.values()].reduce((n, x) => n + x.ports.size, 0),
    async ensureNetwork(n) {
      if (!Number.isInteger(n.vni) || n.vni < 0 || n.vni > 0xffffff) {
        raise(errors.badRequest(P, `VNI ${n.vni} of network "${n.id}" is outside 0-16777215 (0 = local only)`, { code: VxlanCodes.vniRange, path: 'vni', value: n.vni }));
      }
      const local = n.vni === 0;
      if (local && n.encrypted) {
        raise(errors.badRequest(P, `Network "${n.id}" is local only (VNI 0): it never leaves this host, so it cannot be encrypted`, { code: VxlanCodes.encryption, value: n.id }));
      }
      for (const other of nets.values()) {
        if (!local && other.spec.id !== n.id && other.spec.vni === n.vni) {
          raise(errors.conflict(P, `VNI ${n.vni} of network "${n.id}" is already used by network "${other.spec.id}"`, { code: VxlanCodes.vniInUse, value: n.vni }));
        }
      }
      if (n.encrypted && !encrypts) {
        // Never fall back to clear text silently (cf. CVE-2023-28840/41/42).
        raise(errors.notImplemented(P, `Network "${n.id}" asks for encryption, but no cipher service with key-ring listeners and a worker module is loaded: refusing rather than sending in clear`, {
          code: VxlanCodes.encryption, hint: 'load the sodium plugin (cipher service), or create the network without --opt encrypted',
        }));
      }
      const old = nets.get(n.id);
      // Called on every Join: an unchanged network costs nothing (no snapshot of its ports).
      if (old !== undefined && JSON.stringify(old.spec) === JSON.stringify(n)) return;
      // Local-only networks get an id no 24-bit VXLAN header can carry: nothing from the wire reaches them.
      const wireVni = old?.wireVni ?? (local ? LOCAL_VNI_BASE + nextLocal++ : n.vni);
      const gwMac = macToNum(gatewayMacFor(wireVni));
      const gwIps = n.gateways.filter((g) => !g.includes(':')).map((g) => parseIPv4(ipOnly(g)));
      const gwIps6 = n.gateways.filter((g) => g.includes(':')).map(ipOnly);
      // The resolver answers on the gateway addresses unless the network names another one ('' disables it).
      const dnsIps = n.resolver === undefined ? gwIps : n.resolver === '' || n.resolver.includes(':') ? [] : [parseIPv4(ipOnly(n.resolver))];
      // Over IPv6 too (an IPv6-only network's sandboxes ask its IPv6 gateway).
      const dnsIps6 = n.resolver === undefined ? gwIps6 : n.resolver.includes(':') ? [ipOnly(n.resolver)] : [];
      nets.set(n.id, {
        spec: n, wireVni, gwMac, gwIps, gwIps6, dnsIps, dnsIps6, ports: old?.ports ?? new Map(), peers: old?.peers ?? new Map(),
        retiredPorts: old?.retiredPorts ?? new Float64Array(K), retiredPeers: old?.retiredPeers ?? new Float64Array(K), routed: old?.routed ?? new Set(),
      });
      publish();
    },

    async removeNetwork(id) {
      const n = nets.get(id);
      if (n === undefined) return;
      for (const p of [...n.ports.values()]) await dp.removePort(id, p.spec.endpointId);
      for (const p of n.peers.values()) {
        freePeerSlots.push(p.slot);
        releaseVtep(p.spec);
      }
      nets.delete(id);
      publish();
    },

    async addPort(p) {
      const n = net(p.network);
      const mtu = n.spec.mtu;
      const ul = underlayMtu();
      const overhead = vxlanOverhead(family) + (n.spec.encrypted ? envelope : 0);
      if (n.spec.vni !== 0 && ul !== undefined && ul.mtu < mtu + overhead) {
        raise(errors.badRequest(
          P,
          `Underlay interface "${ul.dev}" has MTU ${ul.mtu}, too small for network "${n.spec.id}" with MTU ${mtu} plus ${overhead} bytes of VXLAN over ${familyName}${n.spec.encrypted ? ' and encryption' : ''}: ` +
            `create the network with -o com.docker.network.driver.mtu=${ul.mtu - overhead} or raise the underlay MTU`,
          { code: VxlanCodes.underlayMtu, value: ul.mtu },
        ));
      }
      const existing = n.ports.get(p.endpointId);
      if (existing !== undefined) return { ifname: existing.ifname };
      const inner = p.dstName ?? p.ifname;
      const flags = offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0;
      // A sandbox's TAP is created in the sandbox itself under its final name, so nothing is moved
      // or renamed, and configured there by ioctls and netlink (no ip process per port), all in one
      // switch of the thread's namespace. After an agent restart the persistent TAP is already in
      // the sandbox: it is opened again as it is. Without a sandbox (Docker moves it) it stays in
      // the agent's namespace.
      const where = p.netns ?? agentNs;
      const name = p.netns !== undefined ? inner : p.ifname;
      const { fd, name: ifname, reattached } = withNetns(sys, where, () => {
        const exists = linkIndex(sys, name) !== undefined;
        const again = p.netns !== undefined && exists;
        const tap = openTap(sys, name, { persist: true, nonblock: true, offload: flags });
        try {
          if (p.netns === undefined) configureLink(sys, tap.name, { mac: p.mac, mtu, up: true });
          else if (!again) configureSandbox(sys, p, tap.name, n);
        } catch (e) {
          if (!exists) setTapPersist(sys, tap.fd, false);
          sys.close(tap.fd);
          throw e;
        }
        return { ...tap, reattached: again };
      });
      if (reattached) log?.info('vxlan: re-attached TAP in sandbox', { ifname, netns: p.netns });
      const slot = freePortSlots.pop();
      if (slot === undefined) {
        sys.close(fd);
        raise(errors.unavailable(P, `No free port slot (at most ${MAX_PORTS} ports per host)`, { code: VxlanCodes.full }));
      }
      zeroRow(portRow(slot));
      const ps: PortState = { spec: p, fd, slot, ifname, mac: macToNum(p.mac), ipv4: p.ipv4 !== undefined ? parseIPv4(ipOnly(p.ipv4)) : 0 };
      n.ports.set(p.endpointId, ps);
      bySlot[slot] = { net: n, port: ps };
      post({ t: 'port+', vni: n.wireVni, port: snapPort(ps) });
      await settle();
      return { ifname };
    },

    async removePort(network, endpointId) {
      const n = nets.get(network);
      const p = n?.ports.get(endpointId);
      if (n === undefined || p === undefined) return;
      n.ports.delete(endpointId);
      bySlot[p.slot] = undefined;
      post({ t: 'port-', vni: n.wireVni, port: snapPort(p) });
      await settle();
      readRow(portRow(p.slot), n.retiredPorts);
      // Not persistent any more: closing the last fd deletes the device wherever it is.
      setTapPersist(sys, p.fd, false);
      sys.close(p.fd);
      freePortSlots.push(p.slot);
      // In a shared namespace the network's routes went with this port's device if it held them:
      // another port of the network there takes them over (a no-op when they are elsewhere).
      if (p.spec.sharedNetns === true && p.spec.netns !== undefined) {
        const ns = p.spec.netns;
        n.routed.delete(ns);
        for (const o of n.ports.values()) {
          if (o.spec.netns !== ns || o.spec.sharedNetns !== true) continue;
          try {
            if (claimRoutesIn(sys, o.spec, o.ifname, n)) log?.info('vxlan: network routes moved to another port of the shared namespace', { network, ifname: o.ifname, netns: ns });
            n.routed.add(ns);
          } catch (e) {
            log?.warn('vxlan: could not move the network routes to another port of the shared namespace', { network, ifname: o.ifname, error: String(e) });
          }
          break;
        }
      }
    },

    addPeer(p) {
      const n = net(p.network);
      if (n.spec.vni === 0) {
        raise(errors.badRequest(P, `Network "${n.spec.id}" is local only (VNI 0): it has no VXLAN peers`, { code: VxlanCodes.vniRange, value: p.vtep, hint: 'Use an overlay network for peers on other hosts.' }));
      }
      const mac = macToNum(p.mac);
      const pv = canonicalIP(p.vtep);
      if (!pv.ok) raise(errors.badRequest(P, `Peer ${p.mac} in network "${n.spec.id}": VTEP ${JSON.stringify(p.vtep)} is not an IP address`, { code: VxlanCodes.underlayFamily, value: p.vtep }));
      if (pv.ok && pv.value.family !== family) {
        raise(errors.badRequest(P, vtepFamilyMismatch(p, n.spec.id, pv.value.family, localAddr, family), { code: VxlanCodes.underlayFamily, value: p.vtep, hint: VTEP_FAMILY_HINT }));
      }
      // A peer that moved to another VTEP is a new peer there.
      if (n.peers.has(mac) && vtepKey(n.peers.get(mac)!.spec) !== vtepKey(p)) dp.removePeer(p.network, p.mac);
      const old = n.peers.get(mac);
      const slot = old?.slot ?? freePeerSlots.pop();
      if (slot === undefined) raise(errors.unavailable(P, `No free peer slot (at most ${MAX_PEERS} peers per host)`, { code: VxlanCodes.full }));
      let vslot: number;
      try {
        vslot = old?.vslot ?? holdVtep(p);
      } catch (e) {
        if (old === undefined) freePeerSlots.push(slot);
        throw e;
      }
      if (old === undefined) zeroRow(peerRow(slot));
      const ps: PeerState = { spec: p, slot, mac, vslot };
      n.peers.set(mac, ps);
      post({ t: 'peer+', vni: n.wireVni, peer: snapPeer(ps) });
    },

    removePeer(network, mac) {
      const n = nets.get(network);
      const m = macToNum(mac);
      const p = n?.peers.get(m);
      if (n === undefined || p === undefined) return;
      n.peers.delete(m);
      readRow(peerRow(p.slot), n.retiredPeers);
      freePeerSlots.push(p.slot);
      const vlast = releaseVtep(p.spec);
      post({ t: 'peer-', vni: n.wireVni, peer: snapPeer(p), ...(vlast ? { vlast } : {}) });
    },

    stats(): DataPathStats {
      const now = Date.now();
      return {
        host: named(readRow(globalRow)),
        networks: [...nets.values()].map((n) => {
          const ports = Float64Array.from(n.retiredPorts);
          const peers = Float64Array.from(n.retiredPeers);
          for (const p of n.ports.values()) readRow(portRow(p.slot), ports);
          const peerList = [...n.peers.values()].map((p) => {
            const row = readRow(peerRow(p.slot));
            for (let i = 0; i < K; i++) peers[i]! += row[i]!;
            const s = p.spec;
            return {
              mac: s.mac, vtep: s.vtep, vtepPort: s.vtepPort ?? port, external: s.external === true, counters: named(row),
              ...(s.ipv4 !== undefined ? { ipv4: s.ipv4 } : {}), ...(s.node !== undefined ? { node: s.node } : {}), ...(s.name !== undefined ? { name: s.name } : {}),
            };
          });
          return { id: n.spec.id, ports: named(ports), peers: named(peers), peerList };
        }),
        vteps: [...vteps.values()].map((v) => {
          const row = readRow(vtepRow(v.slot));
          const epoch = row[C.sa_epoch]! - 1;
          return { vtep: v.addr, txEpoch: epoch, saAgeMs: epoch < 0 || row[C.sa_since] === 0 ? 0 : Math.max(0, now - row[C.sa_since]!), counters: named(row) };
        }),
      };
    },

    counters(network) {
      const out: Record<string, Counters> = {};
      const sum = (row: number): Counters => {
        const c: Record<string, number> = {};
        COUNTER_FIELDS.forEach((name, i) => {
          let v = 0;
          for (const w of workers) v += w.counters[row + i] ?? 0;
          c[name] = v;
        });
        return c;
      };
      if (network === undefined) out['vtep'] = sum(globalRow);
      for (const n of nets.values()) {
        if (network !== undefined && n.spec.id !== network) continue;
        for (const p of n.ports.values()) out[`port/${p.spec.endpointId}`] = sum(portRow(p.slot));
        for (const p of n.peers.values()) out[`peer/${p.spec.mac}`] = sum(peerRow(p.slot));
      }
      return out;
    },

    gatewayMac(id) {
      const n = nets.get(id);
      return n === undefined ? undefined : numToMac(n.gwMac);
    },

    async close() {
      unsubscribeRing?.();
      await stopWorker(main);
      if (rxOnly !== undefined) await stopWorker(rxOnly);
      for (const n of nets.values()) for (const p of n.ports.values()) sys.close(p.fd);
      sys.close(recvFd);
      for (const fd of sendFds) sys.close(fd);
      nets.clear();
    },
  };
  return dp;
}

/**
 * Inside the sandbox (the calling thread is in its namespace), by ioctls: MAC, MTU, IPv4 address,
 * up, default route via the network's gateway. In a namespace many ports share (`sharedNetns`:
 * bare endpoints) by netlink: the address is a /32 and the routes are on one port of the network
 * (`claimRoutes`).
 */
function configureSandbox(sys: Sys, p: PortSpec, ifname: string, n: NetState): void {
  const ns = p.netns;
  if (ns === undefined) return;
  const v4 = p.ipv4 !== undefined && p.ipv4.includes('/');
  const gw = n.spec.gateways.find((g) => !g.includes(':'));
  if (v4 && p.sharedNetns === true) {
    // MAC, MTU, up and the /32 in one netlink batch (fewer system calls per port: what an attach
    // costs here is mostly them); the routes only while no live port of the network holds them.
    const nl = openNetlink(sys);
    try {
      const index = linkIndex(sys, ifname);
      if (index === undefined) throw new Error(`interface "${ifname}" vanished from namespace "${ns}"`);
      nl.exec([nlLinkSet(index, { mac: p.mac, mtu: n.spec.mtu, up: true }), nlAddrAdd(index, `${ipOnly(p.ipv4!)}/32`)], (i) => (i === 0 ? `MAC ${p.mac}, MTU ${n.spec.mtu}, up on "${ifname}" in "${ns}"` : `address ${ipOnly(p.ipv4!)}/32 on "${ifname}" in "${ns}"`));
      if (!n.routed.has(ns)) {
        claimRoutes(nl, index, p, ifname, n);
        n.routed.add(ns);
      }
    } finally {
      nl.close();
    }
  } else {
    configureLink(sys, ifname, {
      mac: p.mac, mtu: n.spec.mtu, up: true,
      ...(v4 ? { ipv4: p.ipv4! } : {}),
      ...(v4 && gw !== undefined ? { gateway: ipOnly(gw) } : {}),
    });
  }
  if (p.ipv6 !== undefined && p.ipv6.includes('/')) {
    ip(['addr', 'replace', p.ipv6, 'dev', ifname, 'nodad'], ns);
    // The IPv6 default route via the network's IPv6 gateway (the switch answers ND for it), unless
    // internal or the sandbox has one already (its first network keeps it, as for IPv4).
    const gw6 = n.spec.gateways.find((g) => g.includes(':'));
    if (gw6 !== undefined && !n.spec.internal && ip(['-6', 'route', 'show', 'default'], ns).trim() === '') {
      ip(['-6', 'route', 'replace', 'default', 'via', ipOnly(gw6), 'dev', ifname], ns);
    }
  }
}

/**
 * The routes of a port in a shared namespace: every port there has its address as a /32, so the
 * kernel adds no connected route per port (the routes to one prefix through N devices are a list
 * the kernel walks on each insert: O(N) per attach, most of the agent's CPU at 10,000 bare
 * endpoints). Instead one port of the network holds the subnet's route, and the default route via
 * the gateway if the namespace has none yet. Exclusive adds: true when this port took the routes,
 * false when another port has them. Replies of every endpoint leave through that port, as they
 * did through the first of the N equal routes before.
 */
function claimRoutes(nl: Netlink, index: number, p: PortSpec, ifname: string, n: NetState): boolean {
  const ns = p.netns;
  if (ns === undefined || p.ipv4 === undefined || !p.ipv4.includes('/')) return false;
  const c = parseCidr(p.ipv4);
  if (!c.ok) throw new Error(`port ${p.endpointId}: ${c.error}`);
  const subnet = formatCidr(c.value);
  const gw = n.spec.gateways.find((g) => !g.includes(':'));
  const [e] = nl.send([nlRouteAdd({ dst: subnet, oif: index })]);
  if (e === EEXIST) return false;
  if (e !== 0) throw new SysError(`route ${subnet} dev "${ifname}" in "${ns}"`, e!);
  if (gw !== undefined && !n.spec.internal) {
    const [d] = nl.send([nlRouteAdd({ dst: '0.0.0.0/0', oif: index, gateway: ipOnly(gw) })]);
    if (d !== 0 && d !== EEXIST) throw new SysError(`default route via ${ipOnly(gw)} dev "${ifname}" in "${ns}"`, d!);
  }
  return true;
}

/** `claimRoutes` for a port already configured, from the agent's thread (after another port went). */
function claimRoutesIn(sys: Sys, p: PortSpec, ifname: string, n: NetState): boolean {
  if (p.netns === undefined) return false;
  return withNetns(sys, p.netns, () => {
    const index = linkIndex(sys, ifname);
    if (index === undefined) return false;
    const nl = openNetlink(sys);
    try {
      return claimRoutes(nl, index, p, ifname, n);
    } finally {
      nl.close();
    }
  });
}
