/**
 * ICMPv4 echo (RFC 792), ICMPv6 echo (RFC 4443) and the neighbour discovery
 * messages needed for proxy NDP (RFC 4861 §4.3, §4.4).
 *
 * ICMPv4 checksums cover the ICMP message only; ICMPv6 checksums also cover
 * the IPv6 pseudo-header (RFC 4443 §2.3).
 */
import { checksumAdd, checksumFinish, checksumUpdate16 } from './checksum.ts';
import { pseudoHeaderSumIPv6 } from './udp.ts';
import { readMac, writeMac } from './mac.ts';
import { ETHERTYPE_IPV6, ETH_HEADER_LEN, ethPayloadOffset, ethSrc, writeEthHeader } from './ethernet.ts';
import { IPV6_HEADER_LEN, ipv6Valid, ipv6NextHeader, ipv6HopLimit, ipv6PayloadLength } from './ipv6.ts';
import { IPPROTO_ICMPV6 } from './ipv4.ts';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMP_ECHO_HEADER_LEN = 8;
/** NS/NA without options: type, code, checksum, 4 bytes flags/reserved, 16-byte target. */
export const NDP_HEADER_LEN = 24;
export const NDP_OPT_SOURCE_LINK_ADDR = 1;
export const NDP_OPT_TARGET_LINK_ADDR = 2;
/** Flag bits in byte 4 of a neighbour advertisement. */
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;

/** True if an 8-byte ICMP header (type, code, checksum, id, seq) fits in buf[off, end). */
export const icmpValid = (buf: Uint8Array, off = 0, end = buf.length): boolean =>
  off >= 0 && off + ICMP_ECHO_HEADER_LEN <= Math.min(end, buf.length);

// Accessors below assume `icmpValid(buf, off)`.
export const icmpType = (buf: Uint8Array, off: number): number => buf[off]!;
export const icmpCode = (buf: Uint8Array, off: number): number => buf[off + 1]!;
export const icmpChecksum = (buf: Uint8Array, off: number): number => (buf[off + 2]! << 8) | buf[off + 3]!;
export const icmpEchoId = (buf: Uint8Array, off: number): number => (buf[off + 4]! << 8) | buf[off + 5]!;
export const icmpEchoSeq = (buf: Uint8Array, off: number): number => (buf[off + 6]! << 8) | buf[off + 7]!;

const setChecksum = (buf: Uint8Array, off: number, c: number): void => {
  buf[off + 2] = c >>> 8;
  buf[off + 3] = c;
};

/** ICMPv4 checksum of buf[off, end) with the checksum field taken as zero. */
export const icmpComputeChecksum = (buf: Uint8Array, off: number, end: number): number =>
  checksumFinish(checksumAdd(checksumAdd(0, buf, off, off + 2), buf, off + 4, end));

/** True if the ICMPv4 message buf[off, end) has a correct checksum. */
export const icmpChecksumValid = (buf: Uint8Array, off: number, end: number): boolean =>
  icmpValid(buf, off, end) && checksumFinish(checksumAdd(0, buf, off, end)) === 0;

/** ICMPv6 checksum of the message buf[off, off+length) given the IPv6 source/destination bytes. */
export const icmpv6ComputeChecksum = (
  buf: Uint8Array, off: number, length: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): number => {
  let s = pseudoHeaderSumIPv6(srcBuf, srcOff, dstBuf, dstOff, IPPROTO_ICMPV6, length);
  s = checksumAdd(s, buf, off, off + 2);
  s = checksumAdd(s, buf, off + 4, off + length);
  return checksumFinish(s);
};

export const icmpv6ChecksumValid = (
  buf: Uint8Array, off: number, length: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): boolean => icmpv6ComputeChecksum(buf, off, length, srcBuf, srcOff, dstBuf, dstOff) === icmpChecksum(buf, off);

/** Writes an ICMPv4 echo request/reply with payload `data` and its checksum; returns the end offset. Caller guarantees room. */
export const writeIcmpEcho = (
  out: Uint8Array, off: number, type: number, id: number, seq: number, data?: Uint8Array,
): number => {
  out[off] = type;
  out[off + 1] = 0;
  out[off + 2] = 0;
  out[off + 3] = 0;
  out[off + 4] = id >>> 8;
  out[off + 5] = id;
  out[off + 6] = seq >>> 8;
  out[off + 7] = seq;
  let end = off + ICMP_ECHO_HEADER_LEN;
  if (data !== undefined) {
    out.set(data, end);
    end += data.length;
  }
  setChecksum(out, off, icmpComputeChecksum(out, off, end));
  return end;
};

/**
 * Turns the ICMPv4 echo request req[reqOff, reqEnd) into a reply at
 * out[outOff] (may be the same buffer and offset, for in-place replies). The
 * checksum is updated incrementally (RFC 1624) as only the type changes.
 * Returns the reply length, or `-1` if req is not a valid echo request or
 * out lacks room.
 */
export const writeIcmpEchoReply = (
  out: Uint8Array, outOff: number, req: Uint8Array, reqOff: number, reqEnd: number,
): number => {
  const end = Math.min(reqEnd, req.length);
  if (!icmpValid(req, reqOff, end) || req[reqOff] !== ICMP_ECHO_REQUEST || req[reqOff + 1] !== 0) return -1;
  const len = end - reqOff;
  if (outOff < 0 || outOff + len > out.length) return -1;
  const oldCsum = icmpChecksum(req, reqOff);
  if (out !== req || outOff !== reqOff) out.set(req.subarray(reqOff, end), outOff);
  out[outOff] = ICMP_ECHO_REPLY;
  setChecksum(out, outOff, checksumUpdate16(oldCsum, ICMP_ECHO_REQUEST << 8, ICMP_ECHO_REPLY << 8));
  return len;
};

/**
 * As `writeIcmpEchoReply` for ICMPv6 (type 128 -> 129). The pseudo-header sum
 * is unchanged when source and destination swap, so the checksum is again
 * updated incrementally; the caller swaps the IPv6 addresses.
 */
export const writeIcmpv6EchoReply = (
  out: Uint8Array, outOff: number, req: Uint8Array, reqOff: number, reqEnd: number,
): number => {
  const end = Math.min(reqEnd, req.length);
  if (!icmpValid(req, reqOff, end) || req[reqOff] !== ICMPV6_ECHO_REQUEST || req[reqOff + 1] !== 0) return -1;
  const len = end - reqOff;
  if (outOff < 0 || outOff + len > out.length) return -1;
  const oldCsum = icmpChecksum(req, reqOff);
  if (out !== req || outOff !== reqOff) out.set(req.subarray(reqOff, end), outOff);
  out[outOff] = ICMPV6_ECHO_REPLY;
  setChecksum(out, outOff, checksumUpdate16(oldCsum, ICMPV6_ECHO_REQUEST << 8, ICMPV6_ECHO_REPLY << 8));
  return len;
};

// ---------------------------------------------------------------------------
// Neighbour discovery

/** True if buf[off, end) holds an NS header (type 135, code 0, >= 24 bytes). */
export const ndpNsValid = (buf: Uint8Array, off = 0, end = buf.length): boolean =>
  off >= 0 && off + NDP_HEADER_LEN <= Math.min(end, buf.length) &&
  buf[off] === ICMPV6_NEIGHBOR_SOLICITATION && buf[off + 1] === 0;

/** Offset of the 16-byte target address of an NS/NA at `off`. */
export const ndpTargetOffset = (off: number): number => off + 8;

/**
 * Finds a link-layer address option of `optType` (1 = source, 2 = target)
 * after the 24-byte NS/NA header; returns the MAC or `-1`. Option length 0 is
 * malformed (RFC 4861 §4.6) and stops the walk, so the loop always ends.
 */
export const ndpLinkAddrOption = (buf: Uint8Array, off: number, end: number, optType: number): number => {
  const e = Math.min(end, buf.length);
  let p = off + NDP_HEADER_LEN;
  while (p + 2 <= e) {
    const t = buf[p]!;
    const l = buf[p + 1]! * 8;
    if (l === 0 || p + l > e) return -1;
    if (t === optType && l >= 8) return readMac(buf, p + 2);
    p += l;
  }
  return -1;
};

/**
 * Writes a neighbour advertisement (24 bytes + 8-byte target link-layer
 * address option) for the target at target[targetOff..+16] with its checksum;
 * returns the end offset. `flags` is a mix of NA_FLAG_*. `src`/`dst` are the
 * IPv6 addresses the packet will carry (for the pseudo-header).
 */
export const writeNeighborAdvertisement = (
  out: Uint8Array, off: number,
  target: Uint8Array, targetOff: number, targetMac: number, flags: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): number => {
  out[off] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  out[off + 1] = 0;
  out[off + 2] = 0;
  out[off + 3] = 0;
  out[off + 4] = flags & 0xe0;
  out[off + 5] = 0;
  out[off + 6] = 0;
  out[off + 7] = 0;
  for (let i = 0; i < 16; i++) out[off + 8 + i] = target[targetOff + i]!;
  out[off + 24] = NDP_OPT_TARGET_LINK_ADDR;
  out[off + 25] = 1;
  writeMac(out, off + 26, targetMac);
  const len = NDP_HEADER_LEN + 8;
  setChecksum(out, off, icmpv6ComputeChecksum(out, off, len, srcBuf, srcOff, dstBuf, dstOff));
  return off + len;
};

/** Writes a neighbour solicitation with a source link-layer address option; returns the end offset. */
export const writeNeighborSolicitation = (
  out: Uint8Array, off: number,
  target: Uint8Array, targetOff: number, sourceMac: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): number => {
  out[off] = ICMPV6_NEIGHBOR_SOLICITATION;
  for (let i = 1; i < 8; i++) out[off + i] = 0;
  for (let i = 0; i < 16; i++) out[off + 8 + i] = target[targetOff + i]!;
  out[off + 24] = NDP_OPT_SOURCE_LINK_ADDR;
  out[off + 25] = 1;
  writeMac(out, off + 26, sourceMac);
  const len = NDP_HEADER_LEN + 8;
  setChecksum(out, off, icmpv6ComputeChecksum(out, off, len, srcBuf, srcOff, dstBuf, dstOff));
  return off + len;
};

const ALL_NODES = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

const isUnspecified = (buf: Uint8Array, off: number): boolean => {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
};

/** Frame length written by `writeNeighborAdvertisementFrame`. */
export const NA_FRAME_LEN = ETH_HEADER_LEN + IPV6_HEADER_LEN + NDP_HEADER_LEN + 8;

/**
 * Proxy NDP: given an untagged Ethernet frame carrying an IPv6 neighbour
 * solicitation, writes the Ethernet + IPv6 + neighbour advertisement saying
 * "target is at `answerMac`" into out[outOff]. Returns the frame length
 * (86) or `-1` if the request is not a valid NS (RFC 4861 §7.1.1: hop limit
 * 255, code 0, correct checksum, no extension headers here) or out lacks room.
 *
 * Per RFC 4861 §7.2.4 the reply goes to the solicitation's source with the
 * Solicited flag; if that source is :: (duplicate address detection) it goes
 * to ff02::1 without the Solicited flag. Override is set, Router is not unless
 * `router` is true. `out` must not overlap the request.
 */
export const writeNeighborAdvertisementFrame = (
  out: Uint8Array, outOff: number, ns: Uint8Array, nsOff: number, nsEnd: number, answerMac: number, router = false,
): number => {
  const end = Math.min(nsEnd, ns.length);
  const ip = ethPayloadOffset(ns, nsOff, end);
  if (ip !== nsOff + ETH_HEADER_LEN || ns[ip - 2] !== 0x86 || ns[ip - 1] !== 0xdd) return -1;
  if (!ipv6Valid(ns, ip, end) || ipv6NextHeader(ns, ip) !== IPPROTO_ICMPV6 || ipv6HopLimit(ns, ip) !== 255) return -1;
  const icmp = ip + IPV6_HEADER_LEN;
  const icmpLen = ipv6PayloadLength(ns, ip);
  if (!ndpNsValid(ns, icmp, icmp + icmpLen)) return -1;
  if (!icmpv6ChecksumValid(ns, icmp, icmpLen, ns, ip + 8, ns, ip + 24)) return -1;
  if (outOff < 0 || outOff + NA_FRAME_LEN > out.length) return -1;

  const dad = isUnspecified(ns, ip + 8);
  const dstBuf = dad ? ALL_NODES : ns;
  const dstOff = dad ? 0 : ip + 8;
  const target = ndpTargetOffset(icmp);
  const ethDst = dad ? 0x333300000001 : ethSrc(ns, nsOff);
  const oIp = writeEthHeader(out, outOff, ethDst, answerMac, ETHERTYPE_IPV6);
  // IPv6 header written by hand: addresses are copied from bytes, not bigints.
  out[oIp] = 0x60;
  out[oIp + 1] = 0;
  out[oIp + 2] = 0;
  out[oIp + 3] = 0;
  out[oIp + 4] = 0;
  out[oIp + 5] = NDP_HEADER_LEN + 8;
  out[oIp + 6] = IPPROTO_ICMPV6;
  out[oIp + 7] = 255;
  for (let i = 0; i < 16; i++) {
    out[oIp + 8 + i] = ns[target + i]!;
    out[oIp + 24 + i] = dstBuf[dstOff + i]!;
  }
  const flags = (dad ? 0 : NA_FLAG_SOLICITED) | NA_FLAG_OVERRIDE | (router ? NA_FLAG_ROUTER : 0);
  writeNeighborAdvertisement(out, oIp + IPV6_HEADER_LEN, out, oIp + 8, answerMac, flags, out, oIp + 8, out, oIp + 24);
  return NA_FRAME_LEN;
};
