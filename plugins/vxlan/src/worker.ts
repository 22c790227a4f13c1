/**
 * A data-path worker thread. Role `tap`: one per port, blocking-style reads from its TAP, then
 * switch (proxy ARP, gateway echo, local port, or VXLAN to a peer). Role `udp`: one per host,
 * batched receive from the VXLAN socket, demux by VNI, FDB lookup, TAP write.
 *
 * Tables arrive as snapshots on a MessagePort; the loop notices a new generation through a
 * SharedArrayBuffer word and drains the port synchronously (receiveMessageOnPort), so it never
 * yields to the event loop. Fds are non-blocking; an idle loop sleeps in poll(2) for ≤200 ms so
 * that stop requests and table changes are seen.
 */
import { receiveMessageOnPort, workerData, parentPort, type MessagePort } from 'node:worker_threads';
import {
  EAGAIN, EINTR, POLLIN, SIZEOF_MMSGHDR, SOL_UDP, UDP_GRO, UDP_SEGMENT, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE, loadSys, writeSockaddrIn,
} from '@weft/sys';
import { C, CTL_GEN, CTL_STOP, MAX_PEERS, globalRow, peerRow, portRow, type Snapshot, type WorkerInit } from './layout.ts';
import { ETH, arpReplyInPlace, flowHash, fold, icmpEchoReplyInPlace, readMac, readU16, readU32, readVxlanVni, sum16, writeU16, writeVxlanHeader } from './frames.ts';
import { segmentTcp, coalesceTcp, rxVnetHeader, type SegOut } from './gso.ts';

const init = workerData as WorkerInit & { port: MessagePort };
const sys = await loadSys();
const ctl = new Int32Array(init.ctl);
const cnt = new Float64Array(init.counters);

interface Dest {
  readonly local: boolean;
  readonly fd: number;
  readonly row: number;
  /** Address of the peer's sockaddr_in in `saMem`. */
  readonly sa: number;
}
interface Net {
  readonly vni: number;
  readonly mtu: number;
  readonly gwMac: number;
  readonly gwIps: readonly number[];
  readonly arp: Map<number, number>;
  readonly fdb: Map<number, Dest>;
}

const saMem = sys.alloc(MAX_PEERS * 16);
let byVni = new Map<number, Net>();
let seen = -1;

function apply(s: Snapshot): void {
  const m = new Map<number, Net>();
  for (const n of s.nets) {
    const arp = new Map<number, number>();
    const fdb = new Map<number, Dest>();
    for (const g of n.gwIps) arp.set(g, n.gwMac);
    for (const p of n.ports) {
      if (p.ipv4 !== 0) arp.set(p.ipv4, p.mac);
      fdb.set(p.mac, { local: true, fd: p.fd, row: portRow(p.slot), sa: 0 });
    }
    for (const p of n.peers) {
      if (p.ipv4 !== 0) arp.set(p.ipv4, p.mac);
      writeSockaddrIn(saMem.bytes, p.slot * 16, p.vtep, p.port);
      fdb.set(p.mac, { local: false, fd: -1, row: peerRow(p.slot), sa: saMem.addr + p.slot * 16 });
    }
    m.set(n.vni, { vni: n.vni, mtu: n.mtu, gwMac: n.gwMac, gwIps: n.gwIps, arp, fdb });
  }
  byVni = m;
}

/** Applies pending table snapshots; true when asked to stop. */
function sync(): boolean {
  const g = Atomics.load(ctl, CTL_GEN);
  if (g !== seen) {
    seen = g;
    let last: Snapshot | undefined;
    for (let m = receiveMessageOnPort(init.port); m !== undefined; m = receiveMessageOnPort(init.port)) last = m.message as Snapshot;
    if (last !== undefined) apply(last);
  }
  return Atomics.load(ctl, CTL_STOP) !== 0;
}

apply(init.snapshot);
const pfd = sys.alloc(8);
new DataView(pfd.bytes.buffer, pfd.bytes.byteOffset).setInt32(0, init.fd, true);
pfd.bytes[4] = POLLIN;
const idle = (): void => void sys.poll(pfd.addr, 1, 200);
const sendFds = init.sendFds;

// ---------------------------------------------------------------------------------------------
// Send helpers: one datagram, or a UDP_SEGMENT train (one sendmsg, kernel splits at `seg`).

const msgMem = sys.alloc(64 + 16 + 32);
const mb = msgMem.bytes;
const mdv = new DataView(mb.buffer, mb.byteOffset, mb.byteLength);
// struct msghdr at 0, iovec at 64, cmsg (UDP_SEGMENT, u16) at 80.
mdv.setBigUint64(16, BigInt(msgMem.addr + 64), true);
mdv.setBigUint64(24, 1n, true);
mdv.setBigUint64(80, 18n, true); // cmsg_len = CMSG_LEN(2)
mdv.setInt32(88, SOL_UDP, true);
mdv.setInt32(92, UDP_SEGMENT, true);

function sendTrain(fd: number, addr: number, len: number, seg: number, sa: number): number {
  mdv.setBigUint64(0, BigInt(sa), true);
  mdv.setUint32(8, 16, true);
  mdv.setBigUint64(64, BigInt(addr), true);
  mdv.setBigUint64(72, BigInt(len), true);
  if (seg > 0 && seg < len) {
    mdv.setBigUint64(32, BigInt(msgMem.addr + 80), true);
    mdv.setBigUint64(40, 24n, true); // CMSG_SPACE(2)
    mdv.setUint16(96, seg, true);
  } else {
    mdv.setBigUint64(32, 0n, true);
    mdv.setBigUint64(40, 0n, true);
  }
  return sys.sendmsg(fd, msgMem.addr, 0);
}

// ---------------------------------------------------------------------------------------------
// Role tap

function tapLoop(): void {
  const fd = init.fd;
  const row = portRow(init.portSlot);
  const CAP = 65536 + VNET_HDR_LEN;
  const buf = sys.alloc(CAP + 64);
  const b = buf.bytes;
  // Segmentation output: up to 64 KiB of VXLAN datagrams, reused.
  const out = sys.alloc(2 * 65536 + 4096);
  const seg: SegOut = { count: 0, size: 0, total: 0 };
  let net = byVni.get(init.vni);
  let gen = seen;
  const f = VNET_HDR_LEN;
  for (;;) {
    const n = sys.read(fd, buf.addr, CAP);
    if (Atomics.load(ctl, CTL_GEN) !== gen) {
      if (sync()) return;
      gen = seen;
      net = byVni.get(init.vni);
    }
    if (n < 0) {
      const e = sys.errno();
      if (e !== EAGAIN && e !== EINTR) cnt[globalRow + C.drop_io]!++;
      if (sync()) return;
      idle();
      continue;
    }
    const len = n - f;
    cnt[row + C.rx_packets]!++;
    cnt[row + C.rx_bytes]! += len;
    if (len < ETH || net === undefined) {
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
          if (sys.write(fd, buf.addr, n) < 0) cnt[row + C.drop_io]!++;
          else cnt[row + C.proxy_arp]!++;
        } else cnt[row + C.arp_miss]!++;
      } else cnt[row + C.drop_broadcast]!++;
      continue;
    }
    const dst = readMac(b, f);
    if (dst === net.gwMac) {
      const r = len >= ETH + 20 && net.gwIps.includes(readU32(b, f + ETH + 16)) ? icmpEchoReplyInPlace(b, f, len, net.gwMac) : 0;
      if (r > 0) {
        b.fill(0, 0, f);
        if (sys.write(fd, buf.addr, f + r) < 0) cnt[row + C.drop_io]!++;
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
      if (sys.write(d.fd, buf.addr, n) < 0) cnt[row + C.drop_io]!++;
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
      if (!segmentTcp(b, f, len, init.vni, out.bytes, seg)) {
        cnt[row + C.drop_malformed]!++;
        continue;
      }
      cnt[row + C.tx_super_frames]!++;
      // One UDP_SEGMENT train per ≤64 KiB chunk of whole datagrams.
      const per = Math.max(1, Math.min(64, Math.floor(65000 / seg.size)));
      for (let i = 0; i < seg.count; i += per) {
        const k = Math.min(per, seg.count - i);
        const start = i * seg.size;
        const l = Math.min(seg.total - start, k * seg.size);
        if (sendTrain(sfd, out.addr + start, l, seg.size, d.sa) < 0) cnt[d.row + C.drop_io]! += k;
        else {
          cnt[d.row + C.tx_packets]! += k;
          cnt[d.row + C.tx_bytes]! += l;
        }
      }
      continue;
    }
    if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; finish it over [start, end).
      const cs = f + (b[6]! | (b[7]! << 8));
      const co = cs + (b[8]! | (b[9]! << 8));
      if (co + 2 <= n) writeU16(b, co, ~fold(sum16(b, cs, n, 0)) & 0xffff || 0xffff);
    }
    if (len > net.mtu + ETH) {
      cnt[row + C.drop_too_big]!++;
      continue;
    }
    writeVxlanHeader(b, f - 8, init.vni);
    if (sys.sendto(sfd, buf.addr + f - 8, len + 8, 0, d.sa, 16) < 0) cnt[d.row + C.drop_io]!++;
    else {
      cnt[d.row + C.tx_packets]!++;
      cnt[d.row + C.tx_bytes]! += len;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Role udp

function udpLoop(): void {
  const fd = init.fd;
  const B = 8;
  const BUF = 65536 + 64;
  const bufs = sys.alloc(B * BUF);
  const meta = sys.alloc(B * (SIZEOF_MMSGHDR + 16 + 16 + 32));
  const b = bufs.bytes;
  const mv = new DataView(meta.bytes.buffer, meta.bytes.byteOffset, meta.bytes.byteLength);
  const mm = 0;
  const iov = B * SIZEOF_MMSGHDR;
  const names = iov + B * 16;
  const cmsg = names + B * 16;
  for (let i = 0; i < B; i++) {
    const h = mm + i * SIZEOF_MMSGHDR;
    mv.setBigUint64(h, BigInt(meta.addr + names + i * 16), true);
    mv.setBigUint64(h + 16, BigInt(meta.addr + iov + i * 16), true);
    mv.setBigUint64(h + 24, 1n, true);
    mv.setBigUint64(h + 32, BigInt(meta.addr + cmsg + i * 32), true);
    // Received datagrams land 2 bytes in, so that a 10-byte virtio header fits before the inner frame.
    mv.setBigUint64(iov + i * 16, BigInt(bufs.addr + i * BUF + 2), true);
    mv.setBigUint64(iov + i * 16 + 8, BigInt(BUF - 64), true);
  }
  const co: SegOut = { count: 0, size: 0, total: 0 };
  for (;;) {
    for (let i = 0; i < B; i++) {
      const h = mm + i * SIZEOF_MMSGHDR;
      mv.setUint32(h + 8, 16, true);
      mv.setBigUint64(h + 40, 32n, true);
    }
    const got = sys.recvmmsg(fd, meta.addr + mm, B, 0, 0);
    if (Atomics.load(ctl, CTL_GEN) !== seen && sync()) return;
    if (got <= 0) {
      const e = sys.errno();
      if (got < 0 && e !== EAGAIN && e !== EINTR) cnt[globalRow + C.drop_io]!++;
      if (sync()) return;
      idle();
      continue;
    }
    for (let i = 0; i < got; i++) {
      const h = mm + i * SIZEOF_MMSGHDR;
      const len = mv.getUint32(h + 56, true);
      let segSize = len;
      if (mv.getBigUint64(h + 40, true) >= 20n) {
        const c = cmsg + i * 32;
        if (mv.getInt32(c + 8, true) === SOL_UDP && mv.getInt32(c + 12, true) === UDP_GRO) segSize = mv.getInt32(c + 16, true) || len;
      }
      const base = i * BUF + 2;
      if (init.offload && segSize < len) {
        const vni = readVxlanVni(b, base);
        if (vni >= 0 && coalesceTcp(b, base, len, segSize, co)) {
          // A GRO train of one TCP flow, rebuilt as one super-frame behind a GSO virtio header.
          deliver(b, co.size, co.total, bufs.addr, vni);
          continue;
        }
      }
      for (let off = 0; off < len; off += segSize) deliver(b, base + off, Math.min(segSize, len - off), bufs.addr, -1);
    }
  }

  /** `gsoVni` ≥ 0: an already coalesced super-frame of that VNI (its VXLAN header is overwritten). */
  function deliver(b: Uint8Array, p: number, dlen: number, baseAddr: number, gsoVni: number): void {
    const gso = gsoVni >= 0;
    const vni = gso ? gsoVni : readVxlanVni(b, p);
    if (dlen < 8 + ETH || vni < 0) {
      cnt[globalRow + C.drop_malformed]!++;
      return;
    }
    const net = byVni.get(vni);
    if (net === undefined) {
      cnt[globalRow + C.drop_unknown_vni]!++;
      return;
    }
    const f = p + 8;
    const flen = dlen - 8;
    const src = net.fdb.get(readMac(b, f + 6));
    if (src !== undefined && !src.local) {
      cnt[src.row + C.rx_packets]!++;
      cnt[src.row + C.rx_bytes]! += flen;
    }
    if ((b[f]! & 1) !== 0) {
      cnt[globalRow + C.drop_broadcast]!++;
      return;
    }
    const d = net.fdb.get(readMac(b, f));
    if (d === undefined || !d.local) {
      cnt[globalRow + C.drop_unknown_unicast]!++;
      return;
    }
    if (!gso) rxVnetHeader(b, f, flen);
    if (sys.write(d.fd, baseAddr + f - VNET_HDR_LEN, flen + VNET_HDR_LEN) < 0) cnt[d.row + C.drop_io]!++;
    else {
      cnt[d.row + C.tx_packets]!++;
      cnt[d.row + C.tx_bytes]! += flen;
      if (gso) cnt[d.row + C.rx_coalesced]!++;
    }
  }
}

parentPort?.postMessage('ready');
if (init.role === 'tap') tapLoop();
else udpLoop();
init.port.close();
