/**
 * The data-path worker thread: one per host. It owns the VXLAN receive socket and every TAP of
 * the host, and runs a single loop: batched receive (recvmmsg, UDP_GRO) → demux by VNI → FDB →
 * TAP write; TAP read → switch (proxy ARP, gateway echo, local port, or VXLAN to a peer, with
 * userspace TSO and UDP_SEGMENT). One thread for both directions lets it busy-poll briefly after
 * traffic (`spinUs`), which removes the thread wake-ups that otherwise dominate the round trip.
 *
 * Tables arrive as snapshots on a MessagePort; the loop notices a new generation through a
 * SharedArrayBuffer word, drains the port synchronously (receiveMessageOnPort) and acknowledges,
 * so the controller knows when a removed port's fd is no longer used. It never yields to the
 * event loop; when idle it sleeps in poll(2) for ≤200 ms.
 */
import { receiveMessageOnPort, workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import {
  EAGAIN, EINTR, EPOLLIN, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, MSG_DONTWAIT, POLLIN, SIZEOF_MMSGHDR, SOL_UDP, UDP_GRO, UDP_SEGMENT, VNET_HDR_LEN,
  PRIO_PROCESS, SIZEOF_SOCKADDR_IN, SIZEOF_SOCKADDR_IN6, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, formatIPv4, loadSys, parseIPv6Bytes, writeSockaddrIn,
  writeSockaddrIn6,
} from '@weft/sys';
import { CIPHER_MAX_PLAINTEXT, DropReason, loadWorkerCipher, type CipherSession, type KeyRing } from '@weft/kernel';
import {
  C, CTL_ACK, CTL_GEN, CTL_STOP, EPOLL_FROM, MAX_PEERS, MAX_PORTS, SA_STRIDE, globalRow, peerRow, portRow, vtepKey6, vtepRow,
  type RingMsg, type SnapNet, type SnapPeer, type SnapPort, type Snapshot, type TableMsg, type WorkerInit,
} from './layout.ts';
import { ETH, arpReplyInPlace, flowHash, fold, icmpEchoReplyInPlace, readMac, readU16, readU32, readVxlanVni, sum16, writeU16, writeVxlanHeader } from './frames.ts';
import { segmentTcp, coalesceTcp, isTcpGso, newSegOut, rxVnetHeader } from './gso.ts';
import { icmp6EchoReplyInPlace, ipv6TextKey, ndAdvertInPlace, nsTarget } from './nd.ts';
import { isDnsQuery, isDnsQuery6, type DnsQueryMsg } from './dns.ts';
import { FRAG_HDR, FRAG_MAX_COUNT, Reassembly, isFragment, writeFragHeader } from './frag.ts';

const init = workerData as WorkerInit & { port: MessagePort };
const sys = await loadSys();
/** The underlay's family: IPv6 VTEPs are `sockaddr_in6` (28 bytes) and known by `vtepKey6`. */
const V6 = init.family === 6;
const SALEN = V6 ? SIZEOF_SOCKADDR_IN6 : SIZEOF_SOCKADDR_IN;
const ctl = new Int32Array(init.ctl);
const cnt = new Float64Array(init.counters);
/**
 * This thread's own cipher, built from the module the `cipher` service names (`Cipher.worker`):
 * sessions hold sequence numbers and replay windows, which must not be shared with another
 * thread. The controller mirrors every ring the control plane installs (`RingMsg`).
 */
const cipher = init.cipher !== undefined ? await loadWorkerCipher(init.cipher) : undefined;
/** Envelope overhead (28 for the ESP-like envelope: SPI 4 + seq 8 + tag 16, docs/wire.md). */
const OVH = cipher?.overhead ?? 28;
function installRing(r: KeyRing): void {
  try {
    cipher?.setKeyRing(r);
  } catch {
    cnt[globalRow + C.drop_crypto]!++;
  }
}
if (init.ring !== undefined) installRing(init.ring);

interface Dest {
  readonly local: boolean;
  readonly fd: number;
  readonly row: number;
  /** Address of the peer's sockaddr_in (or sockaddr_in6) in `saMem`. */
  readonly sa: number;
  readonly fullCsum: boolean;
  /** Peers of encrypted networks: the session toward the peer's VTEP. */
  readonly sess: CipherSession | undefined;
}
interface Net {
  readonly vni: number;
  readonly encrypted: boolean;
  readonly mtu: number;
  readonly gwMac: number;
  readonly gwIps: readonly number[];
  /** The IPv6 gateways' address keys (`ipv6Key`), for ICMPv6 echo. */
  readonly gwKeys6: readonly string[];
  readonly dnsIps: readonly number[];
  /** Address keys (`ipv6Key`) whose UDP/53 over IPv6 the switch answers. */
  readonly dnsKeys6: readonly string[];
  readonly arp: Map<number, number>;
  /** IPv6 neighbour table: address key → MAC. */
  readonly nd: Map<string, number>;
  readonly fdb: Map<number, Dest>;
}
interface Tap {
  readonly fd: number;
  readonly row: number;
  readonly slot: number;
  readonly net: Net;
}

const saMem = sys.alloc(MAX_PEERS * SA_STRIDE);
const pfds = sys.alloc((MAX_PORTS + 2) * 8);
const pdv = new DataView(pfds.bytes.buffer, pfds.bytes.byteOffset, pfds.bytes.byteLength);
let byVni = new Map<number, Net>();
/** Sessions by the sender's underlay address (encrypted networks' peers). */
let rxSess = new Map<number, CipherSession>();
/** Counter row of each remote VTEP by underlay address (receive drops attributable to a sender). */
let vtepRows = new Map<number, number>();
/** Sessions by VTEP row slot, whose epoch and age `publishSessions` writes after table or ring changes. */
let vtepSess = new Map<number, CipherSession>();
let taps: Tap[] = [];
/** Index of each port slot's TAP in `taps` (swap-remove on deltas). */
const tapAt = new Map<number, number>();
/** TAP by fd, for epoll readiness. */
const tapByFd: (Tap | undefined)[] = [];
let seen = -1;
let nfds = 0;
let pollDirty = true;
const doUdp = init.mode !== 'taps';
const doTaps = init.mode !== 'udp';
const wakeFd = init.wakeFd;
const wakeBuf = sys.alloc(8);

// epoll set: the wake eventfd, the VXLAN socket (if this worker receives) and every TAP. Kept in
// step with the tables all the time; waited on only when there are more than EPOLL_FROM TAPs.
const ep = sys.epoll_create1(EPOLL_CLOEXEC);
const MAXEV = 256;
const evs = sys.alloc(MAXEV * EPOLL_EVENT_SIZE);
const edv = new DataView(evs.bytes.buffer, evs.bytes.byteOffset, evs.bytes.byteLength);
const ctlEv = sys.alloc(16);
const cev = new DataView(ctlEv.bytes.buffer, ctlEv.bytes.byteOffset, 16);
function epollSet(fd: number, on: boolean): void {
  cev.setUint32(0, EPOLLIN, true);
  cev.setUint32(EPOLL_DATA_OFFSET, fd, true);
  if (on) {
    if (sys.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ctlEv.addr) < 0 && sys.epoll_ctl(ep, EPOLL_CTL_MOD, fd, ctlEv.addr) < 0) cnt[globalRow + C.drop_io]!++;
  } else sys.epoll_ctl(ep, EPOLL_CTL_DEL, fd, ctlEv.addr);
}
epollSet(wakeFd, true);
if (doUdp) epollSet(init.udpFd, true);

function makeNet(n: SnapNet): Net {
  const arp = new Map<number, number>();
  const nd = new Map<string, number>();
  const fdb = new Map<number, Dest>();
  for (const g of n.gwIps) arp.set(g, n.gwMac);
  for (const g of n.dnsIps) arp.set(g, n.gwMac);
  for (const g of n.gwIps6) nd.set(ipv6TextKey(g), n.gwMac);
  for (const g of n.dnsIps6) nd.set(ipv6TextKey(g), n.gwMac);
  return { vni: n.vni, encrypted: n.encrypted, mtu: n.mtu, gwMac: n.gwMac, gwIps: n.gwIps, gwKeys6: n.gwIps6.map(ipv6TextKey), dnsIps: n.dnsIps, dnsKeys6: n.dnsIps6.map(ipv6TextKey), arp, nd, fdb };
}

function addPortTo(net: Net, p: SnapPort): void {
  if (p.ipv4 !== 0) net.arp.set(p.ipv4, p.mac);
  if (p.ipv6 !== '') net.nd.set(ipv6TextKey(p.ipv6), p.mac);
  net.fdb.set(p.mac, { local: true, fd: p.fd, row: portRow(p.slot), sa: 0, fullCsum: false, sess: undefined });
  if (!doTaps) return;
  const old = tapAt.get(p.slot);
  if (old !== undefined) removeTap(p.slot);
  const tap: Tap = { fd: p.fd, row: portRow(p.slot), slot: p.slot, net };
  tapAt.set(p.slot, taps.length);
  taps.push(tap);
  tapByFd[p.fd] = tap;
  epollSet(p.fd, true);
  pollDirty = true;
}

function removeTap(slot: number): void {
  const i = tapAt.get(slot);
  if (i === undefined) return;
  const tap = taps[i]!;
  const last = taps.pop()!;
  if (last !== tap) {
    taps[i] = last;
    tapAt.set(last.slot, i);
  }
  tapAt.delete(slot);
  if (tapByFd[tap.fd] === tap) tapByFd[tap.fd] = undefined;
  epollSet(tap.fd, false);
  pollDirty = true;
}

function addPeerTo(net: Net, p: SnapPeer, rs: Map<number, CipherSession>): void {
  if (p.ipv4 !== 0) net.arp.set(p.ipv4, p.mac);
  if (p.ipv6 !== '') net.nd.set(ipv6TextKey(p.ipv6), p.mac);
  if (V6) writeSockaddrIn6(saMem.bytes, p.slot * SA_STRIDE, parseIPv6Bytes(p.vtep6), p.port);
  else writeSockaddrIn(saMem.bytes, p.slot * SA_STRIDE, p.vtep, p.port);
  // Identities are the two VTEP addresses (canonical text), so both ends derive the same SPIs and SA keys.
  const sess = net.encrypted && cipher !== undefined ? cipher.session(init.localId, V6 ? p.vtep6 : formatIPv4(p.vtep)) : undefined;
  if (sess !== undefined) {
    rs.set(p.vtep, sess);
    vtepSess.set(p.vslot, sess);
  }
  vtepRows.set(p.vtep, vtepRow(p.vslot));
  net.fdb.set(p.mac, { local: false, fd: -1, row: peerRow(p.slot), sa: saMem.addr + p.slot * SA_STRIDE, fullCsum: p.fullCsum, sess });
}

/** Removes what a port or peer put in the tables, unless another entry owns it by now. */
function forget(net: Net, x: { mac: number; ipv4: number; ipv6: string }): void {
  if (x.ipv4 !== 0 && net.arp.get(x.ipv4) === x.mac) net.arp.delete(x.ipv4);
  if (x.ipv6 !== '') {
    const k = ipv6TextKey(x.ipv6);
    if (net.nd.get(k) === x.mac) net.nd.delete(k);
  }
  net.fdb.delete(x.mac);
}

/** A full snapshot: rebuilds every table (networks created or changed, worker start). */
function apply(s: Snapshot): void {
  const m = new Map<number, Net>();
  const rs = new Map<number, CipherSession>();
  vtepRows = new Map();
  vtepSess = new Map();
  for (const t of [...taps]) removeTap(t.slot);
  for (const n of s.nets) {
    const net = makeNet(n);
    for (const p of n.ports) addPortTo(net, p);
    for (const p of n.peers) addPeerTo(net, p, rs);
    m.set(n.vni, net);
  }
  byVni = m;
  rxSess = rs;
}

function applyDelta(d: TableMsg): void {
  const net = byVni.get(d.vni);
  if (net === undefined) return; // the network went in a later snapshot
  if (d.t === 'port+') addPortTo(net, d.port);
  else if (d.t === 'port-') {
    forget(net, d.port);
    removeTap(d.port.slot);
  } else if (d.t === 'peer+') addPeerTo(net, d.peer, rxSess);
  else {
    forget(net, d.peer);
    if (d.vlast === true) {
      // Its row slot may go to another VTEP next: stop counting into it.
      vtepRows.delete(d.peer.vtep);
      vtepSess.delete(d.peer.vslot);
    }
  }
}

/**
 * Writes each session's key epoch and SA install time into its VTEP's row, for the controller's
 * debug view and metrics. Runs after table or ring changes only (an SA changes only then).
 */
function publishSessions(): void {
  const now = Date.now();
  for (const [slot, sess] of vtepSess) {
    const st = sess.stats;
    const epoch = Number(st.txEpoch ?? -1);
    const row = vtepRow(slot);
    cnt[row + C.sa_epoch] = epoch + 1;
    cnt[row + C.sa_since] = epoch < 0 ? 0 : now - Number(st.saAgeMs ?? 0);
  }
}

function rebuildPfds(): void {
  nfds = 0;
  const add = (fd: number): void => {
    pdv.setInt32(8 * nfds, fd, true);
    pdv.setInt16(8 * nfds + 4, POLLIN, true);
    pdv.setInt16(8 * nfds + 6, 0, true);
    nfds++;
  };
  add(wakeFd);
  if (doUdp) add(init.udpFd);
  for (const tap of taps) add(tap.fd);
  pollDirty = false;
}

/** Applies pending table changes and rings, in order; true when asked to stop. */
function sync(): boolean {
  const g = Atomics.load(ctl, CTL_GEN);
  if (g !== seen) {
    seen = g;
    sys.read(wakeFd, wakeBuf.addr, 8);
    for (let m = receiveMessageOnPort(init.port); m !== undefined; m = receiveMessageOnPort(init.port)) {
      const msg = m.message as Snapshot | RingMsg | TableMsg;
      if (!('t' in msg)) apply(msg);
      else if (msg.t === 'ring') installRing(msg.ring);
      else applyDelta(msg);
    }
    publishSessions();
    Atomics.store(ctl, CTL_ACK, g);
    Atomics.notify(ctl, CTL_ACK);
  }
  return Atomics.load(ctl, CTL_STOP) !== 0;
}

apply(init.snapshot);
publishSessions();
const sendFds = init.sendFds;

// ---------------------------------------------------------------------------------------------
// Send: one datagram, or a UDP_SEGMENT train (one sendmsg, the kernel splits at `seg`).

const msgMem = sys.alloc(64 + 16 + 32);
const mdv = new DataView(msgMem.bytes.buffer, msgMem.bytes.byteOffset, msgMem.bytes.byteLength);
// struct msghdr at 0, iovec at 64, cmsg (SOL_UDP/UDP_SEGMENT, u16) at 80.
mdv.setBigUint64(16, BigInt(msgMem.addr + 64), true);
mdv.setBigUint64(24, 1n, true);
mdv.setBigUint64(80, 18n, true); // cmsg_len = CMSG_LEN(2)
mdv.setInt32(88, SOL_UDP, true);
mdv.setInt32(92, UDP_SEGMENT, true);

/** Stores a 64-bit little-endian value < 2^53 without BigInt (no allocation per packet). */
function set64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 4294967296), true);
}

/** sendmsg of `iovCnt` iovecs at `iov` (total `len` bytes), as a UDP_SEGMENT train when len > seg. */
function sendTrainV(fd: number, iov: number, iovCnt: number, len: number, seg: number, sa: number): number {
  set64(mdv, 0, sa);
  mdv.setUint32(8, SALEN, true);
  set64(mdv, 16, iov);
  set64(mdv, 24, iovCnt);
  if (seg > 0 && seg < len) {
    set64(mdv, 32, msgMem.addr + 80);
    set64(mdv, 40, 24); // CMSG_SPACE(2)
    mdv.setUint16(96, seg, true);
  } else {
    set64(mdv, 32, 0);
    set64(mdv, 40, 0);
  }
  return sys.sendmsg(fd, msgMem.addr, 0);
}

// Gather lists: two iovecs (headers, payload in place) per segment, up to 64 segments a train.
const iovTx = sys.alloc(2 * 64 * 16);
const itv = new DataView(iovTx.bytes.buffer, iovTx.bytes.byteOffset, iovTx.bytes.byteLength);
const iovRx = sys.alloc(80 * 16);
const irv = new DataView(iovRx.bytes.buffer, iovRx.bytes.byteOffset, iovRx.bytes.byteLength);

// ---------------------------------------------------------------------------------------------
// TAP → switch

const CAP = 65536 + VNET_HDR_LEN;
// One arena: the frame read from a TAP at 0, its segmented VXLAN train at OUT.
const OUT = CAP + 64;
// Pending train of single frames (see `queueFrame`), after the segmentation output.
const TRAIN = OUT + 2 * 65536 + 4096;
const TRAIN_MAX = 65000;
// Encryption: a sealed single frame (SEAL), sealed segments of a super-frame (ENC, ≤64 KiB a train).
const SEAL = TRAIN + TRAIN_MAX + 4096;
const ENC = SEAL + 65536 + 256;
const tbuf = sys.alloc(ENC + 65536 + 4096);
const tb = tbuf.bytes;
// Fixed views for the cipher (seal takes offset-0 arrays): the VXLAN header + frame of a single
// frame always starts at VNET_HDR_LEN - 8.
const plainSingle = tb.subarray(VNET_HDR_LEN - 8, OUT);
const sealOut = tb.subarray(SEAL, ENC);
const seg = newSegOut();

/**
 * Consecutive single frames to the same peer and source socket are sent as one UDP_SEGMENT train
 * (all datagrams of the first one's size, the last may be shorter), so a burst of MSS-sized TCP
 * segments or small UDP packets costs one sendmsg, and the receiver gets a GRO train it can
 * coalesce. Flushed before anything else is sent and whenever the TAP runs dry.
 */
let trFd = -1;
let trSa = 0;
let trRow = 0;
let trSeg = 0;
let trLen = 0;
let trCount = 0;
let trClosed = false;

function flushTrain(): void {
  if (trCount === 0) return;
  set64(itv, 0, tbuf.addr + TRAIN);
  set64(itv, 8, trLen);
  if (sendTrainV(trFd, iovTx.addr, 1, trLen, trSeg, trSa) < 0) cnt[trRow + C.drop_io]! += trCount;
  else {
    cnt[trRow + C.tx_packets]! += trCount;
    cnt[trRow + C.tx_bytes]! += trLen - 8 * trCount;
  }
  trCount = 0;
  trLen = 0;
}

/** Appends the datagram at tb[p..p+dlen) to the train for (fd, sa), flushing first if it cannot join. */
function queueFrame(fd: number, sa: number, row: number, p: number, dlen: number): void {
  if (trCount > 0 && (fd !== trFd || sa !== trSa || trClosed || dlen > trSeg || trLen + dlen > TRAIN_MAX || trCount >= 64)) flushTrain();
  if (trCount === 0) {
    trFd = fd;
    trSa = sa;
    trRow = row;
    trSeg = dlen;
    trClosed = false;
  }
  tb.copyWithin(TRAIN + trLen, p, p + dlen);
  trLen += dlen;
  trCount++;
  if (dlen < trSeg) trClosed = true;
}

/** Answers a Neighbor Solicitation in tb from the table; false when the frame is not one. */
function ndProxy(net: Net, fd: number, row: number, len: number): boolean {
  const f = VNET_HDR_LEN;
  const target = nsTarget(tb, f, len);
  if (target === undefined) return false;
  const mac = net.nd.get(target);
  if (mac === undefined) {
    cnt[row + C.arp_miss]!++;
    return true;
  }
  const r = ndAdvertInPlace(tb, f, mac);
  tb.fill(0, 0, f);
  if (sys.write(fd, tbuf.addr, f + r) < 0) cnt[row + C.drop_io]!++;
  else cnt[row + C.proxy_arp]!++;
  return true;
}

/** Reads and switches up to `budget` frames from one TAP; returns how many. */
function tapBatch(tap: Tap, budget: number): number {
  const b = tb;
  const f = VNET_HDR_LEN;
  const row = tap.row;
  const fd = tap.fd;
  const net = tap.net;
  let done = 0;
  for (; done < budget; done++) {
    const n = sys.read(fd, tbuf.addr, CAP);
    if (n < 0) {
      const e = sys.errno();
      if (e !== EAGAIN && e !== EINTR) cnt[row + C.drop_io]!++;
      break;
    }
    const len = n - f;
    cnt[row + C.rx_packets]!++;
    cnt[row + C.rx_bytes]! += len;
    if (len < ETH) {
      cnt[row + C.drop_malformed]!++;
      continue;
    }
    if ((b[f]! & 1) !== 0) {
      // Broadcast/multicast: only ARP is handled (answered from the table); nothing is flooded.
      if (readU16(b, f + 12) === 0x0806) {
        const tpa = len >= ETH + 28 ? readU32(b, f + ETH + 24) : 0;
        const spa = len >= ETH + 28 ? readU32(b, f + ETH + 14) : 0;
        const mac = tpa !== spa ? net.arp.get(tpa) : undefined;
        if (mac !== undefined && arpReplyInPlace(b, f, len, mac) > 0) {
          b.fill(0, 0, f);
          if (sys.write(fd, tbuf.addr, n) < 0) cnt[row + C.drop_io]!++;
          else cnt[row + C.proxy_arp]!++;
        } else cnt[row + C.arp_miss]!++;
      } else if (!ndProxy(net, fd, row, len)) cnt[row + C.drop_broadcast]!++;
      continue;
    }
    const dst = readMac(b, f);
    if (dst === net.gwMac) {
      if (ndProxy(net, fd, row, len)) continue; // unicast NUD probe of the gateway
      if (isDnsQuery(b, f, len, net.dnsIps) || isDnsQuery6(b, f, len, net.dnsKeys6)) {
        // Embedded DNS: the controller answers through the `dns` service and writes the reply.
        cnt[row + C.dns_queries]!++;
        const msg: DnsQueryMsg = { t: 'dns', vni: net.vni, row, frame: b.slice(f, f + len) };
        parentPort?.postMessage(msg);
        continue;
      }
      const r4 = len >= ETH + 20 && net.gwIps.includes(readU32(b, f + ETH + 16)) ? icmpEchoReplyInPlace(b, f, len, net.gwMac) : 0;
      const r = r4 > 0 ? r4 : icmp6EchoReplyInPlace(b, f, len, net.gwMac, net.gwKeys6);
      if (r > 0) {
        b.fill(0, 0, f);
        if (sys.write(fd, tbuf.addr, f + r) < 0) cnt[row + C.drop_io]!++;
        else cnt[row + C.gateway_echo]!++;
      } else cnt[row + C.drop_not_routed]!++;
      continue;
    }
    const d = net.fdb.get(dst);
    if (d === undefined) {
      cnt[row + C.drop_unknown_unicast]!++;
      continue;
    }
    if (d.local) {
      // Local delivery keeps the virtio header: a TSO super-frame stays one write.
      if (sys.write(d.fd, tbuf.addr, n) < 0) cnt[d.row + C.drop_io]!++;
      else {
        cnt[d.row + C.tx_packets]!++;
        cnt[d.row + C.tx_bytes]! += len;
      }
      continue;
    }
    const flags = b[0]!;
    const gsoType = b[1]!;
    const sfd = sendFds[flowHash(b, f, len) % sendFds.length]!;
    if (gsoType !== VIRTIO_NET_HDR_GSO_NONE) {
      flushTrain();
      if (d.sess !== undefined && init.superSeal && sendSealedWhole(d, sfd, n, net)) continue;
      if (!segmentTcp(b, f, len, net.vni, OUT, seg, d.fullCsum, init.gather && d.sess === undefined)) {
        cnt[row + C.drop_malformed]!++;
        continue;
      }
      cnt[row + C.tx_super_frames]!++;
      if (d.sess !== undefined) {
        sendSealedSegments(d, sfd);
        continue;
      }
      // One UDP_SEGMENT train per ≤64 KiB of whole datagrams, gathered from the segment headers
      // and the payload where the TAP read put it (no copy in userspace).
      const hsz = seg.hsz;
      const mss = seg.size - hsz;
      const pbase = tbuf.addr + f + hsz - 8;
      const ptotal = len - (hsz - 8);
      const per = Math.max(1, Math.min(64, Math.floor(65000 / seg.size)));
      for (let i = 0; i < seg.count; i += per) {
        const k = Math.min(per, seg.count - i);
        let l = 0;
        let rc: number;
        if (init.gather) {
          for (let j = 0; j < k; j++) {
            const s = i + j;
            const chunk = s === seg.count - 1 ? ptotal - s * mss : mss;
            set64(itv, j * 32, tbuf.addr + OUT + s * hsz);
            set64(itv, j * 32 + 8, hsz);
            set64(itv, j * 32 + 16, pbase + s * mss);
            set64(itv, j * 32 + 24, chunk);
            l += hsz + chunk;
          }
          rc = sendTrainV(sfd, iovTx.addr, 2 * k, l, seg.size, d.sa);
        } else {
          const start = i * seg.size;
          l = Math.min(seg.total - start, k * seg.size);
          set64(itv, 0, tbuf.addr + OUT + start);
          set64(itv, 8, l);
          rc = sendTrainV(sfd, iovTx.addr, 1, l, seg.size, d.sa);
        }
        if (rc < 0) cnt[d.row + C.drop_io]! += k;
        else {
          cnt[d.row + C.tx_packets]! += k;
          cnt[d.row + C.tx_bytes]! += l - 8 * k;
        }
      }
      continue;
    }
    if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && d.fullCsum) {
      // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; finish it over [start, end).
      const cs = f + (b[6]! | (b[7]! << 8));
      const co = cs + (b[8]! | (b[9]! << 8));
      if (co + 2 <= n) writeU16(b, co, ~fold(sum16(b, cs, n, 0)) & 0xffff || 0xffff);
    }
    if (len > net.mtu + ETH) {
      cnt[row + C.drop_too_big]!++;
      cnt[d.row + C.drop_too_big]!++;
      continue;
    }
    writeVxlanHeader(b, f - 8, net.vni);
    if (d.sess !== undefined) {
      // Sealed per UDP datagram: SPI | seq | ChaCha20(VXLAN header + frame) | tag.
      const r = d.sess.seal(plainSingle, len + 8, sealOut);
      if (r < 0) cnt[d.row + C.drop_crypto]!++;
      else {
        cnt[d.row + C.tx_sealed]!++;
        queueFrame(sfd, d.sa, d.row, SEAL, r);
      }
      continue;
    }
    queueFrame(sfd, d.sa, d.row, f - 8, len + 8);
  }
  flushTrain();
  return done;
}

// Fragmented envelopes (frag.ts): the whole super-frame sealed once, its envelope sent in pieces.
const FRAGS = sys.alloc(2 * 65536 + FRAG_MAX_COUNT * FRAG_HDR);
const fb = FRAGS.bytes;
const sealWhole = tb.subarray(ENC, ENC + 65536 + 4096);

/**
 * Seals the TCP super-frame in tb (virtio header + frame, `n` bytes, then the VXLAN header as a
 * trailer) as one envelope and sends it as fragments of at most the size a sealed segment would
 * have. False (nothing sent) when it does not qualify: the caller segments and seals per datagram.
 */
function sendSealedWhole(d: Dest, sfd: number, n: number, net: Net): boolean {
  if (d.fullCsum || !isTcpGso(tb[1]!)) return false;
  const plen = n + 8;
  const total = plen + OVH;
  const dsz = 8 + ETH + net.mtu + OVH;
  const chunk = dsz - FRAG_HDR;
  const count = Math.ceil(total / chunk);
  if (plen > CIPHER_MAX_PLAINTEXT || count > FRAG_MAX_COUNT || chunk > 0xffff) return false;
  writeVxlanHeader(tb, n, net.vni);
  const r = d.sess!.seal(tb.subarray(0, plen), plen, sealWhole);
  if (r !== total) {
    cnt[d.row + C.drop_crypto]!++;
    return true;
  }
  // group = low 32 bits of the envelope's sequence number (bytes 8..11).
  const group = ((tb[ENC + 8]! << 24) | (tb[ENC + 9]! << 16) | (tb[ENC + 10]! << 8) | tb[ENC + 11]!) >>> 0;
  let o = 0;
  for (let j = 0; j < count; j++) {
    const at = j * chunk;
    const len = Math.min(chunk, total - at);
    writeFragHeader(fb, o, group, total, chunk, j, count);
    fb.set(tb.subarray(ENC + at, ENC + at + len), o + FRAG_HDR);
    o += FRAG_HDR + len;
  }
  const per = Math.max(1, Math.min(64, Math.floor(65000 / dsz)));
  for (let i = 0; i < count; i += per) {
    const k = Math.min(per, count - i);
    const start = i * dsz;
    const l = Math.min(o - start, k * dsz);
    set64(itv, 0, FRAGS.addr + start);
    set64(itv, 8, l);
    if (sendTrainV(sfd, iovTx.addr, 1, l, dsz, d.sa) < 0) {
      // The receiver cannot open a group with a piece missing: the super-frame is lost (TCP resends).
      cnt[d.row + C.drop_io]!++;
      return true;
    }
  }
  cnt[d.row + C.tx_packets]! += count;
  cnt[d.row + C.tx_bytes]! += n - VNET_HDR_LEN;
  cnt[d.row + C.tx_sealed]!++;
  cnt[d.row + C.tx_super_frames]!++;
  cnt[d.row + C.tx_fragmented]!++;
  return true;
}

/**
 * Seals the segments of a segmented super-frame (at OUT, `seg.size` apart) one datagram each and
 * sends them as UDP_SEGMENT trains of `seg.size + OVH` (the last datagram may be shorter).
 */
function sendSealedSegments(d: Dest, sfd: number): void {
  const sess = d.sess!;
  const size = seg.size;
  const ssz = size + OVH;
  const per = Math.max(1, Math.min(64, Math.floor(65000 / ssz)));
  for (let i = 0; i < seg.count; i += per) {
    const k = Math.min(per, seg.count - i);
    let l = 0;
    let sealed = 0;
    for (let j = 0; j < k; j++) {
      const s = i + j;
      const at = OUT + s * size;
      const plen = s === seg.count - 1 ? seg.total - s * size : size;
      const r = sess.seal(tb.subarray(at, at + plen), plen, tb.subarray(ENC + l, ENC + l + plen + OVH));
      if (r < 0) {
        cnt[d.row + C.drop_crypto]!++;
        break; // a hole would break the train's equal-size rule; the rest is lost (TCP resends)
      }
      l += r;
      sealed++;
    }
    if (sealed === 0) continue;
    set64(itv, 0, tbuf.addr + ENC);
    set64(itv, 8, l);
    if (sendTrainV(sfd, iovTx.addr, 1, l, ssz, d.sa) < 0) cnt[d.row + C.drop_io]! += sealed;
    else {
      cnt[d.row + C.tx_packets]! += sealed;
      cnt[d.row + C.tx_sealed]! += sealed;
      cnt[d.row + C.tx_bytes]! += l - (8 + OVH) * sealed;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// UDP → TAP

const B = 8;
const BUF = 65536 + 64;
const ubufs = sys.alloc(B * BUF);
const meta = sys.alloc(B * (SIZEOF_MMSGHDR + 16 + SA_STRIDE + 32));
const mv = new DataView(meta.bytes.buffer, meta.bytes.byteOffset, meta.bytes.byteLength);
const IOV = B * SIZEOF_MMSGHDR;
const NAMES = IOV + B * 16;
const CMSG = NAMES + B * SA_STRIDE;
for (let i = 0; i < B; i++) {
  const h = i * SIZEOF_MMSGHDR;
  mv.setBigUint64(h, BigInt(meta.addr + NAMES + i * SA_STRIDE), true);
  mv.setBigUint64(h + 16, BigInt(meta.addr + IOV + i * 16), true);
  mv.setBigUint64(h + 24, 1n, true);
  mv.setBigUint64(h + 32, BigInt(meta.addr + CMSG + i * 32), true);
  // Datagrams land 2 bytes in, so that a 10-byte virtio header fits before the inner frame.
  mv.setBigUint64(IOV + i * 16, BigInt(ubufs.addr + i * BUF + 2), true);
  mv.setBigUint64(IOV + i * 16 + 8, BigInt(BUF - 64), true);
}
const co = newSegOut();
// Opened envelopes of one datagram (or GRO train), laid out like a received train: 2 bytes in,
// each plaintext `segSize - OVH` after the previous one, so the TCP coalescing runs on it as is.
const pt = sys.alloc(BUF);
/** Base address of the arena `deliver` writes from (ubufs, or pt for opened envelopes). */
let curAddr = ubufs.addr;

/** Counts an `open` failure by reason on the host's row and on the sender's VTEP row. */
function countOpenDrop(r: number, src: number): void {
  const c = r === DropReason.auth ? C.drop_auth : r === DropReason.replay ? C.drop_replay : r === DropReason.unknownSpi ? C.drop_unknown_spi : r === DropReason.oldKey ? C.drop_old_key : C.drop_crypto;
  cnt[globalRow + c]!++;
  const vr = vtepRows.get(src);
  if (vr !== undefined) cnt[vr + c]!++;
}

// Fragmented envelopes being put back together (frag.ts), and the opened whole super-frame.
const RSLOTS = 8;
const RCAP = 65536 + 4096;
const rmem = sys.alloc(RSLOTS * RCAP);
const reasm = new Reassembly(RSLOTS, RCAP, rmem.bytes);
const whole = sys.alloc(RCAP);
let reasmBad = 0;

/** Adds one fragment datagram from `src`; opens and delivers the envelope it completes. */
function fragment(b: Uint8Array, p: number, len: number, src: number): void {
  const s = reasm.add(b, p, len, src);
  const bad = reasm.malformed + reasm.evicted;
  if (bad !== reasmBad) {
    cnt[globalRow + C.drop_reassembly]! += bad - reasmBad;
    // Charged to the sender whose fragment caused it (an eviction may hit another sender's group).
    const vr = vtepRows.get(src);
    if (vr !== undefined) cnt[vr + C.drop_reassembly]! += bad - reasmBad;
    reasmBad = bad;
  }
  if (s < 0) return;
  cnt[globalRow + C.rx_reassembled]!++;
  const sess = rxSess.get(src);
  if (sess === undefined) {
    reasm.release(s);
    cnt[globalRow + C.drop_crypto]!++;
    return;
  }
  const r = sess.open(reasm.bytes(s), reasm.length(s), whole.bytes);
  reasm.release(s);
  if (r < 0) {
    countOpenDrop(r, src);
    return;
  }
  cnt[globalRow + C.rx_opened]!++;
  deliverWhole(r);
}

/**
 * Writes the opened whole super-frame in `whole` (virtio header + frame + VXLAN header trailer,
 * as the sender's TAP produced it, `plen` bytes) to its local port in one write.
 */
function deliverWhole(plen: number): void {
  const pb = whole.bytes;
  const flen = plen - 8 - VNET_HDR_LEN;
  const vni = flen >= ETH ? readVxlanVni(pb, plen - 8) : -1;
  if (vni < 0 || !isTcpGso(pb[1]!)) {
    cnt[globalRow + C.drop_malformed]!++;
    return;
  }
  const d = inbound(pb, VNET_HDR_LEN, flen, vni, true);
  if (d === undefined) return;
  if (sys.write(d.fd, whole.addr, VNET_HDR_LEN + flen) < 0) cnt[d.row + C.drop_io]!++;
  else {
    cnt[d.row + C.tx_packets]!++;
    cnt[d.row + C.tx_bytes]! += flen;
    cnt[d.row + C.rx_coalesced]!++;
  }
}

/**
 * Opens every envelope of datagram/train `i` into `pt`; coalesces (GRO) only when all opened.
 * An envelope that does not open is dropped and counted; it never reaches a TAP. Fragments of
 * a fragmented envelope go to reassembly instead.
 */
function openTrain(b: Uint8Array, i: number, base: number, len: number, segSize: number): void {
  const src = srcKey(i);
  const sess = rxSess.get(src);
  const pb = pt.bytes;
  let w = 2;
  let opened = 0;
  let failed = 0;
  for (let off = 0; off < len; off += segSize) {
    const sl = Math.min(segSize, len - off);
    if (isFragment(b, base + off)) {
      fragment(b, base + off, sl, src);
      failed++; // not opened here: no coalescing over it
      continue;
    }
    if (sess === undefined) {
      cnt[globalRow + C.drop_crypto]!++;
      failed++;
      continue;
    }
    const r = sess.open(b.subarray(base + off, base + off + sl), sl, pb.subarray(w, BUF - 64));
    if (r < 0) {
      countOpenDrop(r, src);
      failed++;
      continue;
    }
    w += r;
    opened++;
  }
  if (opened === 0) return;
  cnt[globalRow + C.rx_opened]! += opened;
  curAddr = pt.addr;
  const plen = w - 2;
  const pseg = segSize - OVH;
  if (init.offload && failed === 0 && opened > 1) {
    const vni = readVxlanVni(pb, 2);
    if (vni >= 0 && coalesceTcp(pb, 2, plen, pseg, co, false)) {
      deliver(pb, co.size, co.total, vni, true);
      curAddr = ubufs.addr;
      return;
    }
  }
  if (failed === 0) {
    for (let off = 0; off < plen; off += pseg) deliver(pb, 2 + off, Math.min(pseg, plen - off), -1, true);
  } else {
    // Some envelopes failed: the opened ones lie back to back, each `pseg` long except possibly
    // the train's last datagram; deliver them one by one (no coalescing over a hole).
    let off = 2;
    for (let k = 0; k < opened; k++) {
      const last = k === opened - 1;
      const dl = last ? w - off : pseg;
      deliver(pb, off, dl, -1, true);
      off += dl;
    }
  }
  curAddr = ubufs.addr;
}

/** The sender of datagram `i` of the last batch, as its VTEP is known here (IPv4 address or `vtepKey6`). */
function srcKey(i: number): number {
  return V6 ? vtepKey6(meta.bytes, NAMES + i * SA_STRIDE + 8) : mv.getUint32(NAMES + i * SA_STRIDE + 4);
}

/** One recvmmsg batch; returns datagrams (or trains) received. */
function udpBatch(): number {
  const b = ubufs.bytes;
  for (let i = 0; i < B; i++) {
    const h = i * SIZEOF_MMSGHDR;
    mv.setUint32(h + 8, SA_STRIDE, true);
    mv.setUint32(h + 40, 32, true);
  }
  const got = sys.recvmmsg(init.udpFd, meta.addr, B, MSG_DONTWAIT, 0);
  if (got <= 0) {
    if (got < 0) {
      const e = sys.errno();
      if (e !== EAGAIN && e !== EINTR) cnt[globalRow + C.drop_io]!++;
    }
    return 0;
  }
  for (let i = 0; i < got; i++) {
    const h = i * SIZEOF_MMSGHDR;
    const len = mv.getUint32(h + 56, true);
    let segSize = len;
    if (mv.getUint32(h + 40, true) >= 20) {
      const c = CMSG + i * 32;
      if (mv.getInt32(c + 8, true) === SOL_UDP && mv.getInt32(c + 12, true) === UDP_GRO) segSize = mv.getInt32(c + 16, true) || len;
    }
    const base = i * BUF + 2;
    if (cipher !== undefined && (b[base] !== 0x08 || b[base + 1] !== 0 || b[base + 2] !== 0 || b[base + 3] !== 0)) {
      // Not a VXLAN header: an envelope (its SPI is ≥ 256 and not the VXLAN flags word).
      openTrain(b, i, base, len, segSize);
      continue;
    }
    if (init.offload && segSize < len) {
      const vni = readVxlanVni(b, base);
      if (vni >= 0 && coalesceTcp(b, base, len, segSize, co, init.gather)) {
        // A GRO train of one TCP flow, rebuilt as one super-frame behind a GSO virtio header.
        deliver(b, co.size, co.total, vni, false);
        continue;
      }
    }
    for (let off = 0; off < len; off += segSize) deliver(b, base + off, Math.min(segSize, len - off), -1, false);
  }
  return got;
}

/** `gsoVni` ≥ 0: an already coalesced super-frame of that VNI (its VXLAN header is overwritten). */
function deliver(b: Uint8Array, p: number, dlen: number, gsoVni: number, sealed: boolean): void {
  const gso = gsoVni >= 0;
  const vni = gso ? gsoVni : readVxlanVni(b, p);
  if (dlen < 8 + ETH || vni < 0) {
    cnt[globalRow + C.drop_malformed]!++;
    return;
  }
  const d = inbound(b, p + 8, dlen - 8, vni, sealed);
  if (d === undefined) return;
  const f = p + 8;
  const flen = dlen - 8;
  let rc: number;
  if (gso) {
    // The coalesced super-frame is scattered over the train: one writev gathers it.
    for (let k = 0; k < co.nparts; k++) {
      set64(irv, k * 16, curAddr + co.parts[2 * k]!);
      set64(irv, k * 16 + 8, co.parts[2 * k + 1]!);
    }
    rc = sys.writev(d.fd, iovRx.addr, co.nparts);
  } else {
    rxVnetHeader(b, f, flen);
    rc = sys.write(d.fd, curAddr + f - VNET_HDR_LEN, flen + VNET_HDR_LEN);
  }
  if (rc < 0) cnt[d.row + C.drop_io]!++;
  else {
    cnt[d.row + C.tx_packets]!++;
    cnt[d.row + C.tx_bytes]! += flen;
    if (gso) cnt[d.row + C.rx_coalesced]!++;
  }
}

/**
 * The local port an inbound frame at b[f..f+flen) of network `vni` goes to, or undefined (and
 * counted): unknown VNI, plaintext for an encrypted network or the reverse, broadcast, or a
 * destination that is not a local port. Counts the frame on its sender's peer row.
 */
function inbound(b: Uint8Array, f: number, flen: number, vni: number, sealed: boolean): Dest | undefined {
  const net = byVni.get(vni);
  if (net === undefined) {
    cnt[globalRow + C.drop_unknown_vni]!++;
    return undefined;
  }
  if (net.encrypted !== sealed) {
    // Plaintext for an encrypted VNI is never delivered (CVE-2023-28840); nor is an envelope
    // carrying a plaintext network's VNI.
    cnt[globalRow + (sealed ? C.drop_malformed : C.drop_plaintext)]!++;
    return undefined;
  }
  const src = net.fdb.get(readMac(b, f + 6));
  if (src !== undefined && !src.local) {
    cnt[src.row + C.rx_packets]!++;
    cnt[src.row + C.rx_bytes]! += flen;
  }
  if ((b[f]! & 1) !== 0) {
    cnt[globalRow + C.drop_broadcast]!++;
    return undefined;
  }
  const d = net.fdb.get(readMac(b, f));
  if (d === undefined || !d.local) {
    cnt[globalRow + C.drop_unknown_unicast]!++;
    if (src !== undefined && !src.local) cnt[src.row + C.drop_unknown_unicast]!++;
    return undefined;
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// The loop

/** Serves the fds epoll reported ready (`n` events in `evs`); returns frames handled. */
function dispatch(n: number): number {
  let work = 0;
  for (let i = 0; i < n; i++) {
    const fd = edv.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
    if (fd === wakeFd) sys.read(wakeFd, wakeBuf.addr, 8);
    else if (doUdp && fd === init.udpFd) work += udpBatch();
    else {
      const tap = tapByFd[fd];
      if (tap !== undefined) work += tapBatch(tap, 64);
    }
  }
  return work;
}

const warmTs = sys.alloc(16);
{
  const v = new DataView(warmTs.bytes.buffer, warmTs.bytes.byteOffset, 16);
  set64(v, 0, Math.floor(init.warmUs / 1e6));
  set64(v, 8, (init.warmUs % 1e6) * 1000);
}
/** epoll_wait takes milliseconds. */
const warmMs = Math.max(1, Math.round(init.warmUs / 1000));

function run(): void {
  const spinMs = init.spinUs / 1000;
  // Busy-poll budget: ms of spinning allowed in each one-second window.
  const budgetMs = init.spinBudget * 1000;
  let windowStart = performance.now();
  let spentMs = 0;
  // When this loop last did work: busy-polling and warm ticks both count from it (a warm tick
  // that finds nothing must not start a spin, or the ticks would keep the CPU busy).
  let lastWork = performance.now();
  for (;;) {
    let work = 0;
    const many = taps.length > EPOLL_FROM;
    if (many) {
      // Many ports: only the ready ones are read (no syscall per idle TAP).
      work = dispatch(sys.epoll_wait(ep, evs.addr, MAXEV, 0));
    } else {
      work = doUdp ? udpBatch() : 0;
      const ts = taps;
      for (let i = 0; i < ts.length; i++) work += tapBatch(ts[i]!, 64);
    }
    if (Atomics.load(ctl, CTL_GEN) !== seen && sync()) return;
    if (work > 0) {
      lastWork = performance.now();
      continue;
    }
    if (spinMs > 0) {
      const t = performance.now();
      if (t - windowStart >= 1000) {
        windowStart = t;
        spentMs = 0;
      }
      if (t - lastWork < spinMs && spentMs < budgetMs) {
        // Busy-poll, but let any other runnable thread on this CPU (the sandbox's process, the
        // other host's worker on a small machine) go first. Wall time is counted against the
        // budget, so time given to others counts too (the budget errs on the safe side).
        sys.sched_yield();
        spentMs += performance.now() - t;
        cnt[globalRow + C.spin_polls]!++;
        continue;
      }
    }
    if (sync()) return;
    // Warm ticks: while traffic is recent, wake every warmUs so the next packet finds this
    // loop's code and data still in the caches and TLB.
    const warm = init.warmUs > 0 && performance.now() - lastWork < 1000;
    if (taps.length > EPOLL_FROM) {
      const n = sys.epoll_wait(ep, evs.addr, MAXEV, warm ? warmMs : 200);
      if (n > 0) {
        cnt[globalRow + C.wakeups]!++;
        if (dispatch(n) > 0) lastWork = performance.now();
      } else if (warm) cnt[globalRow + C.warm_ticks]!++;
    } else {
      if (pollDirty) rebuildPfds();
      if ((warm ? sys.ppoll(pfds.addr, nfds, warmTs.addr, 0) : sys.poll(pfds.addr, nfds, 200)) > 0) {
        cnt[globalRow + C.wakeups]!++;
        if (pdv.getInt16(6, true) !== 0) sys.read(wakeFd, wakeBuf.addr, 8);
      } else if (warm) cnt[globalRow + C.warm_ticks]!++;
    }
  }
}

if (init.nice !== 0 && sys.setpriority(PRIO_PROCESS, sys.gettid(), init.nice) < 0) cnt[globalRow + C.drop_io]!++;
parentPort?.postMessage('ready');
run();
sys.close(ep);
init.port.close();
