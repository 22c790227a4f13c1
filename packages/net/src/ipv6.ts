/**
 * IPv6 fixed header (RFC 8200 §3). Extension headers are not walked.
 *
 *   0 version(4) traffic class(8) flow label(20)
 *   4 payload length(16) next header(8) hop limit(8)
 *   8 source(16)  24 destination(16)
 */
import { ipv6FromBytes, ipv6ToBytes } from './ip.ts';

export const IPV6_HEADER_LEN = 40;

/** True if a version-6 fixed header fits and its payload length fits within `end`. */
export const ipv6Valid = (buf: Uint8Array, off = 0, end = buf.length): boolean => {
  const e = Math.min(end, buf.length);
  if (off < 0 || off + IPV6_HEADER_LEN > e) return false;
  if (buf[off]! >> 4 !== 6) return false;
  return off + IPV6_HEADER_LEN + ((buf[off + 4]! << 8) | buf[off + 5]!) <= e;
};

// Accessors below assume `ipv6Valid(buf, off)`.
export const ipv6TrafficClass = (buf: Uint8Array, off: number): number => ((buf[off]! & 15) << 4) | (buf[off + 1]! >> 4);
export const ipv6FlowLabel = (buf: Uint8Array, off: number): number => ((buf[off + 1]! & 15) << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
export const ipv6PayloadLength = (buf: Uint8Array, off: number): number => (buf[off + 4]! << 8) | buf[off + 5]!;
export const ipv6NextHeader = (buf: Uint8Array, off: number): number => buf[off + 6]!;
export const ipv6HopLimit = (buf: Uint8Array, off: number): number => buf[off + 7]!;
/** Offsets of the 16-byte addresses, for allocation-free comparison/copy. */
export const ipv6SrcOffset = (off: number): number => off + 8;
export const ipv6DstOffset = (off: number): number => off + 24;
/** Addresses as bigint (allocates; use the offsets on the hot path). */
export const ipv6Src = (buf: Uint8Array, off: number): bigint => ipv6FromBytes(buf, off + 8);
export const ipv6Dst = (buf: Uint8Array, off: number): bigint => ipv6FromBytes(buf, off + 24);

/** Compares 16 bytes at two offsets without allocating. */
export const ipv6BytesEqual = (a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean => {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
};

export interface IPv6HeaderFields {
  readonly src: bigint;
  readonly dst: bigint;
  readonly nextHeader: number;
  readonly payloadLength: number;
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
}

/** Writes the 40-byte fixed header; returns the payload offset. Caller guarantees room. */
export const writeIPv6Header = (buf: Uint8Array, off: number, f: IPv6HeaderFields): number => {
  const tc = f.trafficClass ?? 0;
  const fl = f.flowLabel ?? 0;
  buf[off] = 0x60 | ((tc >> 4) & 15);
  buf[off + 1] = ((tc & 15) << 4) | ((fl >> 16) & 15);
  buf[off + 2] = fl >> 8;
  buf[off + 3] = fl;
  buf[off + 4] = f.payloadLength >> 8;
  buf[off + 5] = f.payloadLength;
  buf[off + 6] = f.nextHeader;
  buf[off + 7] = f.hopLimit ?? 64;
  ipv6ToBytes(f.src, buf, off + 8);
  ipv6ToBytes(f.dst, buf, off + 24);
  return off + IPV6_HEADER_LEN;
};

export interface IPv6Header {
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly payloadLength: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: bigint;
  readonly dst: bigint;
}

/** Allocating convenience decoder. */
export const decodeIPv6 = (buf: Uint8Array, off = 0, end = buf.length): IPv6Header | undefined =>
  ipv6Valid(buf, off, end)
    ? {
        trafficClass: ipv6TrafficClass(buf, off),
        flowLabel: ipv6FlowLabel(buf, off),
        payloadLength: ipv6PayloadLength(buf, off),
        nextHeader: ipv6NextHeader(buf, off),
        hopLimit: ipv6HopLimit(buf, off),
        src: ipv6Src(buf, off),
        dst: ipv6Dst(buf, off),
      }
    : undefined;
