/**
 * IPv4 header (RFC 791 §3.1).
 *
 *   0 ver/IHL  TOS  total length
 *   4 identification  flags/fragment offset
 *   8 TTL  protocol  header checksum
 *  12 source   16 destination   20 options (IHL > 5)
 */
import { checksumAdd, checksumFinish } from './checksum.ts';
import { readIPv4, writeIPv4 } from './ip.ts';

export const IPV4_MIN_HEADER_LEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/**
 * Validates the header at `off`: version 4, IHL >= 5, header and total length
 * within `end`, total length >= header length. Returns the header length in
 * bytes, or `-1`. Does not check the checksum (see `ipv4ChecksumValid`).
 */
export const ipv4HeaderLength = (buf: Uint8Array, off = 0, end = buf.length): number => {
  const e = Math.min(end, buf.length);
  if (off < 0 || off + IPV4_MIN_HEADER_LEN > e) return -1;
  const vihl = buf[off]!;
  if (vihl >> 4 !== 4) return -1;
  const hl = (vihl & 15) * 4;
  if (hl < IPV4_MIN_HEADER_LEN || off + hl > e) return -1;
  const total = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (total < hl || off + total > e) return -1;
  return hl;
};

// Accessors below assume `ipv4HeaderLength(buf, off) > 0`.
export const ipv4Tos = (buf: Uint8Array, off: number): number => buf[off + 1]!;
export const ipv4TotalLength = (buf: Uint8Array, off: number): number => (buf[off + 2]! << 8) | buf[off + 3]!;
export const ipv4Id = (buf: Uint8Array, off: number): number => (buf[off + 4]! << 8) | buf[off + 5]!;
/** The 3 flag bits: 0b010 = DF, 0b001 = MF. */
export const ipv4Flags = (buf: Uint8Array, off: number): number => buf[off + 6]! >> 5;
/** Fragment offset in 8-byte units. */
export const ipv4FragmentOffset = (buf: Uint8Array, off: number): number => ((buf[off + 6]! & 0x1f) << 8) | buf[off + 7]!;
export const ipv4Ttl = (buf: Uint8Array, off: number): number => buf[off + 8]!;
export const ipv4Protocol = (buf: Uint8Array, off: number): number => buf[off + 9]!;
export const ipv4Checksum = (buf: Uint8Array, off: number): number => (buf[off + 10]! << 8) | buf[off + 11]!;
export const ipv4Src = (buf: Uint8Array, off: number): number => readIPv4(buf, off + 12);
export const ipv4Dst = (buf: Uint8Array, off: number): number => readIPv4(buf, off + 16);

/** Header checksum computed with the checksum field taken as zero. */
export const ipv4ComputeChecksum = (buf: Uint8Array, off: number, headerLength = (buf[off]! & 15) * 4): number => {
  let s = checksumAdd(0, buf, off, off + 10);
  s = checksumAdd(s, buf, off + 12, off + headerLength);
  return checksumFinish(s);
};

/** True if the stored header checksum is correct. Assumes a validated header. */
export const ipv4ChecksumValid = (buf: Uint8Array, off: number): boolean =>
  checksumFinish(checksumAdd(0, buf, off, off + (buf[off]! & 15) * 4)) === 0;

/** Computes and stores the header checksum. */
export const ipv4SetChecksum = (buf: Uint8Array, off: number): void => {
  const c = ipv4ComputeChecksum(buf, off);
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c;
};

export interface IPv4HeaderFields {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  /** Payload bytes after the 20-byte header. */
  readonly payloadLength: number;
  readonly ttl?: number;
  readonly id?: number;
  readonly tos?: number;
  /** Don't Fragment; default true (VXLAN outer headers set it, as the kernel does with `df set`). */
  readonly dontFragment?: boolean;
}

/** Writes a 20-byte header (no options) with its checksum; returns the payload offset. Caller guarantees room. */
export const writeIPv4Header = (buf: Uint8Array, off: number, f: IPv4HeaderFields): number => {
  const total = IPV4_MIN_HEADER_LEN + f.payloadLength;
  buf[off] = 0x45;
  buf[off + 1] = f.tos ?? 0;
  buf[off + 2] = total >>> 8;
  buf[off + 3] = total;
  const id = f.id ?? 0;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id;
  buf[off + 6] = f.dontFragment === false ? 0 : 0x40;
  buf[off + 7] = 0;
  buf[off + 8] = f.ttl ?? 64;
  buf[off + 9] = f.protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeIPv4(buf, off + 12, f.src);
  writeIPv4(buf, off + 16, f.dst);
  ipv4SetChecksum(buf, off);
  return off + IPV4_MIN_HEADER_LEN;
};

export interface IPv4Header {
  readonly headerLength: number;
  readonly totalLength: number;
  readonly tos: number;
  readonly id: number;
  readonly flags: number;
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  readonly checksumValid: boolean;
  readonly src: number;
  readonly dst: number;
}

/** Allocating convenience decoder. */
export const decodeIPv4 = (buf: Uint8Array, off = 0, end = buf.length): IPv4Header | undefined => {
  const hl = ipv4HeaderLength(buf, off, end);
  if (hl < 0) return undefined;
  return {
    headerLength: hl,
    totalLength: ipv4TotalLength(buf, off),
    tos: ipv4Tos(buf, off),
    id: ipv4Id(buf, off),
    flags: ipv4Flags(buf, off),
    fragmentOffset: ipv4FragmentOffset(buf, off),
    ttl: ipv4Ttl(buf, off),
    protocol: ipv4Protocol(buf, off),
    checksum: ipv4Checksum(buf, off),
    checksumValid: ipv4ChecksumValid(buf, off),
    src: ipv4Src(buf, off),
    dst: ipv4Dst(buf, off),
  };
};
