/**
 * Userspace TSO and GRO for VXLAN. `segmentTcp` cuts a TCP super-frame read from a TAP with
 * IFF_VNET_HDR + TUNSETOFFLOAD into MTU-sized inner frames, each behind a VXLAN header, laid out
 * back to back for one UDP_SEGMENT send; it does what the kernel's tcp_gso_segment does (IP
 * length/ID/checksum, TCP sequence, FIN/PSH on the last segment only, CWR on the first only, full
 * TCP checksum), so a Linux vxlan peer receives ordinary frames. `coalesceTcp` does the reverse
 * for a UDP_GRO train: one TCP flow's consecutive segments become one super-frame with a GSO
 * virtio header, which the TAP turns back into a single skb.
 */
import { VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6 } from '@weft/sys';
import { ETH, fold, readU16, readU32, sum16, writeU16, writeU32, writeVxlanHeader } from './frames.ts';

export interface SegOut {
  count: number;
  size: number;
  total: number;
  /** Gather mode: per-segment header bytes (VXLAN + inner headers) written at `outOff + i·hsz`. */
  hsz: number;
  /** Gather-mode coalescing: (offset, length) pairs of the super-frame's pieces, in order. */
  nparts: number;
  readonly parts: Int32Array;
}

export const newSegOut = (): SegOut => ({ count: 0, size: 0, total: 0, hsz: 0, nparts: 0, parts: new Int32Array(2 * 80) });

const TCP = 6;

/** True when virtio `gso_type` (ECN bit ignored) is TCP over IPv4 or IPv6. */
export function isTcpGso(gsoType: number): boolean {
  const g = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  return g === VIRTIO_NET_HDR_GSO_TCPV4 || g === VIRTIO_NET_HDR_GSO_TCPV6;
}

/**
 * Segments the frame at b[f..f+len) (virtio header at b[f-10..f)) into b[outOff..), a region
 * of the same buffer (so copies are copyWithin, without allocation); false if
 * unsupported. `csum` false leaves TCP checksums to the receiver: only for Weft peers, whose
 * receive path marks every TCP/UDP frame CHECKSUM_PARTIAL; the outer UDP checksum still covers
 * the bytes on the wire.
 */
export function segmentTcp(b: Uint8Array, f: number, len: number, vni: number, outOff: number, r: SegOut, csum = true, gather = false): boolean {
  const v = f - 10;
  const gsoType = b[v + 1]! & 0x7f;
  const mss = b[v + 4]! | (b[v + 5]! << 8);
  const et = readU16(b, f + 12);
  const ip = f + ETH;
  let iphl: number;
  let v4: boolean;
  if (et === 0x0800 && gsoType === 1) {
    iphl = (b[ip]! & 15) * 4;
    if (iphl < 20 || b[ip + 9] !== TCP) return false;
    v4 = true;
  } else if (et === 0x86dd && gsoType === 4) {
    iphl = 40;
    if (b[ip + 6] !== TCP) return false;
    v4 = false;
  } else return false;
  const tcp = ip + iphl;
  const tcphl = (b[tcp + 12]! >> 4) * 4;
  const hl = ETH + iphl + tcphl;
  const payload = len - hl;
  if (mss === 0 || payload <= 0 || tcphl < 20) return false;
  const count = Math.ceil(payload / mss);
  const size = 8 + hl + mss;
  const hsz = 8 + hl;
  if (outOff + count * (gather ? hsz : size) > b.length || outOff < f + len) return false;
  const out = b;
  const seq0 = readU32(b, tcp + 4);
  const flags0 = b[tcp + 13]!;
  const id0 = v4 ? readU16(b, ip + 4) : 0;
  // Pseudo-header sum without the length (added per segment).
  let pseudo = v4 ? sum16(b, ip + 12, ip + 20, TCP) : sum16(b, ip + 8, ip + 40, TCP);
  pseudo = fold(pseudo);
  let o = outOff;
  for (let i = 0; i < count; i++) {
    const chunk = i === count - 1 ? payload - i * mss : mss;
    writeVxlanHeader(out, o, vni);
    const g = o + 8;
    out.copyWithin(g, f, f + hl);
    const src = f + hl + i * mss;
    if (!gather) out.copyWithin(g + hl, src, src + chunk);
    const oip = g + ETH;
    const otcp = oip + iphl;
    if (v4) {
      writeU16(out, oip + 2, iphl + tcphl + chunk);
      writeU16(out, oip + 4, (id0 + i) & 0xffff);
      writeU16(out, oip + 10, 0);
      writeU16(out, oip + 10, ~fold(sum16(out, oip, oip + iphl, 0)) & 0xffff);
    } else writeU16(out, oip + 4, tcphl + chunk);
    writeU32(out, otcp + 4, (seq0 + i * mss) >>> 0);
    let fl = flags0;
    if (i !== count - 1) fl &= ~0x09; // FIN, PSH only on the last segment
    if (i !== 0) fl &= ~0x80; // CWR only on the first
    out[otcp + 13] = fl;
    if (csum) {
      writeU16(out, otcp + 16, 0);
      const h = sum16(out, otcp, otcp + tcphl, pseudo + tcphl + chunk);
      writeU16(out, otcp + 16, ~fold(sum16(b, src, src + chunk, h)) & 0xffff);
    } // else: a Weft receiver resets the field to the pseudo-header sum (CHECKSUM_PARTIAL) anyway.
    o += gather ? hsz : 8 + hl + chunk;
  }
  r.count = count;
  r.size = size;
  r.hsz = hsz;
  r.total = count * (8 + hl) + payload;
  return true;
}

/**
 * Coalesces a GRO train at b[p..p+len) of `seg`-byte VXLAN datagrams carrying one TCP flow over
 * IPv4 (no options, not a fragment) or IPv6 (no extension headers) with contiguous sequence
 * numbers, equal ACK and options, and only ACK/PSH flags (PSH on the last datagram only). Every
 * datagram must match the first in VXLAN header, MACs, addresses, ports, and for IPv6 the first
 * word (version, traffic class, flow label) and the hop limit, as the kernel's GRO requires. On
 * success the super-frame's inner frame starts at p+8 with a GSO virtio header (TCPV4 or TCPV6)
 * at p-2, `r.size` = p and `r.total` = 8 + inner length. With `gather`, payloads stay in place
 * and `r.parts` lists the pieces to write (virtio header + headers + first payload, then each
 * further payload). False (buffer untouched) when the train does not qualify.
 */
export function coalesceTcp(b: Uint8Array, p: number, len: number, seg: number, r: SegOut, gather = false): boolean {
  const n = Math.ceil(len / seg);
  if (gather && n > r.parts.length >> 1) return false; // more pieces than one writev is given
  const f = p + 8;
  const ip = f + ETH;
  const et = readU16(b, f + 12);
  let v6: boolean;
  if (et === 0x0800) {
    if (b[ip] !== 0x45 || b[ip + 9] !== TCP) return false;
    v6 = false;
  } else if (et === 0x86dd) {
    if ((b[ip]! >> 4) !== 6 || b[ip + 6] !== TCP) return false; // extension headers: not coalesced
    v6 = true;
  } else return false;
  const iphl = v6 ? 40 : 20;
  const tcp = ip + iphl;
  const tcphl = (b[tcp + 12]! >> 4) * 4;
  const hl = ETH + iphl + tcphl;
  const mss = seg - 8 - hl;
  if (mss <= 0 || tcphl < 20) return false;
  if (v6 ? readU16(b, ip + 4) !== tcphl + mss : readU16(b, ip + 2) !== 20 + tcphl + mss) return false;
  const seq0 = readU32(b, tcp + 4);
  // Check every datagram before moving anything.
  let lastFlags = 0;
  for (let j = 0; j < n; j++) {
    const q = p + j * seg;
    const dl = Math.min(seg, len - j * seg);
    if (dl <= 8 + hl) return false;
    for (let k = 0; k < 8; k++) if (b[q + k] !== b[p + k]) return false; // VXLAN header (VNI)
    const fq = q + 8;
    for (let k = 0; k < 14; k++) if (b[fq + k] !== b[f + k]) return false; // MACs, EtherType
    const iq = fq + ETH;
    if (v6) {
      // Version/class/flow label, next header and hop limit, source and destination.
      if (readU32(b, iq) !== readU32(b, ip) || b[iq + 6] !== TCP || b[iq + 7] !== b[ip + 7]) return false;
      for (let k = 8; k < 40; k += 4) if (readU32(b, iq + k) !== readU32(b, ip + k)) return false;
      if (readU16(b, iq + 4) !== dl - 8 - ETH - 40) return false;
    } else {
      if (b[iq] !== 0x45 || b[iq + 9] !== TCP || readU32(b, iq + 12) !== readU32(b, ip + 12) || readU32(b, iq + 16) !== readU32(b, ip + 16)) return false;
      if (readU16(b, iq + 6) & 0x3fff) return false; // fragments
      if (readU16(b, iq + 2) !== dl - 8 - ETH) return false;
    }
    const tq = iq + iphl;
    if (readU32(b, tq) !== readU32(b, tcp) || readU32(b, tq + 8) !== readU32(b, tcp + 8)) return false; // ports, ACK
    if (((b[tq + 12]! >> 4) * 4) !== tcphl) return false;
    for (let k = 20; k < tcphl; k++) if (b[tq + k] !== b[tcp + k]) return false; // options
    const fl = b[tq + 13]!;
    if ((fl & ~0x18) !== 0 || (j < n - 1 && (fl & 0x08) !== 0)) return false;
    if (readU32(b, tq + 4) !== ((seq0 + j * mss) >>> 0)) return false;
    lastFlags = fl;
  }
  let end = f + hl + mss;
  const parts = r.parts;
  parts[0] = f - 10;
  parts[1] = 10 + hl + mss;
  r.nparts = 1;
  for (let j = 1; j < n; j++) {
    const q = p + j * seg;
    const dl = Math.min(seg, len - j * seg);
    const start = q + 8 + hl;
    const chunk = dl - 8 - hl;
    if (gather) {
      // Leave the payloads where they are: the TAP write gathers them (writev).
      parts[2 * r.nparts] = start;
      parts[2 * r.nparts + 1] = chunk;
      r.nparts++;
    } else b.copyWithin(end, start, start + chunk);
    end += chunk;
  }
  if (!gather) parts[1] = 10 + end - f;
  const inner = end - f;
  const tcpLen = inner - ETH - iphl;
  b[tcp + 13] = lastFlags;
  // CHECKSUM_PARTIAL: the TCP checksum field holds the folded pseudo-header sum.
  if (v6) {
    writeU16(b, ip + 4, tcpLen);
    writeU16(b, tcp + 16, fold(sum16(b, ip + 8, ip + 40, TCP + tcpLen)));
  } else {
    writeU16(b, ip + 2, 20 + tcpLen);
    writeU16(b, ip + 10, 0);
    writeU16(b, ip + 10, ~fold(sum16(b, ip, ip + 20, 0)) & 0xffff);
    writeU16(b, tcp + 16, fold(sum16(b, ip + 12, ip + 20, TCP + tcpLen)));
  }
  const v = f - 10;
  b[v] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
  b[v + 1] = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  b[v + 2] = hl & 255;
  b[v + 3] = hl >> 8;
  b[v + 4] = mss & 255;
  b[v + 5] = mss >> 8;
  b[v + 6] = (ETH + iphl) & 255;
  b[v + 7] = 0;
  b[v + 8] = 16;
  b[v + 9] = 0;
  r.size = p;
  r.total = 8 + inner;
  return true;
}

/**
 * Prepares the virtio header at b[f-10..f) for a received inner frame. TCP/UDP over IPv4 (not a
 * fragment) or IPv6 become CHECKSUM_PARTIAL: the L4 checksum field is reset to the pseudo-header
 * sum and the header points at it. The stack then trusts the payload for local delivery and
 * computes a full checksum if it forwards the frame. This is needed because a Linux peer on a
 * veth underlay sends its offloaded frames with only the pseudo-header sum filled in, as its own
 * vxlan_rcv would pass them on. Anything else gets an all-zero header (verified normally).
 */
export function rxVnetHeader(b: Uint8Array, f: number, flen: number): void {
  const v = f - 10;
  b.fill(0, v, f);
  const et = readU16(b, f + 12);
  const ip = f + ETH;
  let l4: number;
  let proto: number;
  let l4len: number;
  let sum: number;
  if (et === 0x0800 && flen >= ETH + 20) {
    const ihl = (b[ip]! & 15) * 4;
    proto = b[ip + 9]!;
    if ((readU16(b, ip + 6) & 0x3fff) !== 0) return;
    l4 = ip + ihl;
    l4len = readU16(b, ip + 2) - ihl;
    sum = sum16(b, ip + 12, ip + 20, 0);
  } else if (et === 0x86dd && flen >= ETH + 40) {
    proto = b[ip + 6]!;
    l4 = ip + 40;
    l4len = readU16(b, ip + 4);
    sum = sum16(b, ip + 8, ip + 40, 0);
  } else return;
  const off = proto === TCP ? 16 : proto === 17 ? 6 : -1;
  if (off < 0 || l4len < off + 2 || l4 - f + l4len > flen) return;
  if (proto === 17 && et === 0x0800 && b[l4 + 6] === 0 && b[l4 + 7] === 0) return; // no UDP checksum
  writeU16(b, l4 + off, fold(sum + proto + l4len));
  b[v] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
  const start = l4 - f;
  b[v + 6] = start & 255;
  b[v + 7] = start >> 8;
  b[v + 8] = off;
}
