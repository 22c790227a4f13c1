/**
 * UDP (RFC 768) header and checksums with the IPv4 (RFC 768) and IPv6
 * (RFC 8200 §8.1) pseudo-headers.
 */
import { checksumAdd, checksumAdd16, checksumAdd32, checksumFinish } from './checksum.ts';
import { IPPROTO_UDP } from './ipv4.ts';

export const UDP_HEADER_LEN = 8;

/** Returns the UDP length field if the header fits and 8 <= length <= end - off, else `-1`. */
export const udpLength = (buf: Uint8Array, off = 0, end = buf.length): number => {
  const e = Math.min(end, buf.length);
  if (off < 0 || off + UDP_HEADER_LEN > e) return -1;
  const len = (buf[off + 4]! << 8) | buf[off + 5]!;
  return len < UDP_HEADER_LEN || off + len > e ? -1 : len;
};

// Accessors below assume `udpLength(buf, off) > 0`.
export const udpSrcPort = (buf: Uint8Array, off: number): number => (buf[off]! << 8) | buf[off + 1]!;
export const udpDstPort = (buf: Uint8Array, off: number): number => (buf[off + 2]! << 8) | buf[off + 3]!;
export const udpChecksum = (buf: Uint8Array, off: number): number => (buf[off + 6]! << 8) | buf[off + 7]!;

/** Writes the header with a zero checksum; returns the payload offset. `length` includes the header. */
export const writeUdpHeader = (buf: Uint8Array, off: number, srcPort: number, dstPort: number, length: number): number => {
  buf[off] = srcPort >>> 8;
  buf[off + 1] = srcPort;
  buf[off + 2] = dstPort >>> 8;
  buf[off + 3] = dstPort;
  buf[off + 4] = length >>> 8;
  buf[off + 5] = length;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return off + UDP_HEADER_LEN;
};

/** Sum of the IPv4 pseudo-header (src, dst, zero, protocol, length). */
export const pseudoHeaderSumIPv4 = (src: number, dst: number, protocol: number, length: number): number =>
  checksumAdd16(checksumAdd16(checksumAdd32(checksumAdd32(0, src), dst), protocol), length);

/** Sum of the IPv6 pseudo-header (src, dst, 32-bit length, next header); addresses read from byte offsets. */
export const pseudoHeaderSumIPv6 = (
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number, nextHeader: number, length: number,
): number => {
  let s = checksumAdd(0, srcBuf, srcOff, srcOff + 16);
  s = checksumAdd(s, dstBuf, dstOff, dstOff + 16);
  return checksumAdd16(checksumAdd32(s, length), nextHeader);
};

/**
 * UDP checksum over buf[off, off+length) with the IPv4 pseudo-header, treating
 * the stored checksum field as zero. A computed 0 is returned as 0xffff
 * (RFC 768: 0 on the wire means "no checksum").
 */
export const udpComputeChecksumIPv4 = (buf: Uint8Array, off: number, length: number, src: number, dst: number): number => {
  let s = pseudoHeaderSumIPv4(src, dst, IPPROTO_UDP, length);
  s = checksumAdd(s, buf, off, off + 6);
  s = checksumAdd(s, buf, off + 8, off + length);
  return checksumFinish(s) || 0xffff;
};

/** As `udpComputeChecksumIPv4` with the IPv6 pseudo-header (checksum is mandatory over IPv6). */
export const udpComputeChecksumIPv6 = (
  buf: Uint8Array, off: number, length: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): number => {
  let s = pseudoHeaderSumIPv6(srcBuf, srcOff, dstBuf, dstOff, IPPROTO_UDP, length);
  s = checksumAdd(s, buf, off, off + 6);
  s = checksumAdd(s, buf, off + 8, off + length);
  return checksumFinish(s) || 0xffff;
};

/** Stores a checksum value into the header. */
export const udpSetChecksum = (buf: Uint8Array, off: number, checksum: number): void => {
  buf[off + 6] = checksum >>> 8;
  buf[off + 7] = checksum;
};

/** True if the stored checksum is 0 (none, allowed over IPv4) or correct. */
export const udpChecksumValidIPv4 = (buf: Uint8Array, off: number, length: number, src: number, dst: number): boolean => {
  const c = udpChecksum(buf, off);
  return c === 0 || c === udpComputeChecksumIPv4(buf, off, length, src, dst);
};

/** True if the stored checksum is correct (0 is invalid over IPv6, RFC 8200 §8.1). */
export const udpChecksumValidIPv6 = (
  buf: Uint8Array, off: number, length: number,
  srcBuf: Uint8Array, srcOff: number, dstBuf: Uint8Array, dstOff: number,
): boolean => {
  const c = udpChecksum(buf, off);
  return c !== 0 && c === udpComputeChecksumIPv6(buf, off, length, srcBuf, srcOff, dstBuf, dstOff);
};

export interface UdpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly length: number;
  readonly checksum: number;
  readonly payloadOffset: number;
}

/** Allocating convenience decoder. */
export const decodeUdp = (buf: Uint8Array, off = 0, end = buf.length): UdpHeader | undefined => {
  const len = udpLength(buf, off, end);
  if (len < 0) return undefined;
  return {
    srcPort: udpSrcPort(buf, off),
    dstPort: udpDstPort(buf, off),
    length: len,
    checksum: udpChecksum(buf, off),
    payloadOffset: off + UDP_HEADER_LEN,
  };
};
