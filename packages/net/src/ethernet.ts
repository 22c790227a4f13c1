/**
 * Ethernet II framing (IEEE 802.3) with 802.1Q / 802.1ad tag skipping.
 *
 * Frame readers take (buf, off, end) and return numbers; `-1` means
 * truncated or malformed. They never allocate and never read past `end`.
 */
import { readMac, writeMac } from './mac.ts';

export const ETH_HEADER_LEN = 14;
export const ETH_ADDR_LEN = 6;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
/** Tags skipped before giving up; two covers QinQ (802.1ad outer + 802.1Q inner). */
export const ETH_MAX_VLAN_TAGS = 2;

/** Destination MAC; caller guarantees `off + 6 <= buf.length` (use `ethPayloadOffset` first). */
export const ethDst = (buf: Uint8Array, off: number): number => readMac(buf, off);
/** Source MAC; caller guarantees `off + 12 <= buf.length`. */
export const ethSrc = (buf: Uint8Array, off: number): number => readMac(buf, off + 6);

/**
 * Offset of the payload after the MAC addresses, ethertype and up to two VLAN
 * tags; `-1` if the frame is truncated or has more tags.
 */
export const ethPayloadOffset = (buf: Uint8Array, off = 0, end = buf.length): number => {
  const e = Math.min(end, buf.length);
  let p = off + 12;
  for (let tags = 0; ; tags++) {
    if (off < 0 || p + 2 > e) return -1;
    const t = (buf[p]! << 8) | buf[p + 1]!;
    if (t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ) return p + 2;
    if (tags === ETH_MAX_VLAN_TAGS) return -1;
    p += 4;
  }
};

/** EtherType of the payload (after VLAN tags), or `-1` if truncated. */
export const ethType = (buf: Uint8Array, off = 0, end = buf.length): number => {
  const p = ethPayloadOffset(buf, off, end);
  return p < 0 ? -1 : (buf[p - 2]! << 8) | buf[p - 1]!;
};

/** VLAN id (12 bits) of the outermost tag; `0` if untagged, `-1` if truncated. */
export const ethVlanId = (buf: Uint8Array, off = 0, end = buf.length): number => {
  const p = ethPayloadOffset(buf, off, end);
  if (p < 0) return -1;
  return p === off + ETH_HEADER_LEN ? 0 : ((buf[off + 14]! << 8) | buf[off + 15]!) & 0x0fff;
};

/** Writes an untagged header; returns the payload offset. Caller guarantees 14 bytes of room. */
export const writeEthHeader = (buf: Uint8Array, off: number, dst: number, src: number, ethertype: number): number => {
  writeMac(buf, off, dst);
  writeMac(buf, off + 6, src);
  buf[off + 12] = ethertype >>> 8;
  buf[off + 13] = ethertype;
  return off + ETH_HEADER_LEN;
};

export interface EthernetHeader {
  readonly dst: number;
  readonly src: number;
  readonly ethertype: number;
  readonly vlan: number;
  readonly payloadOffset: number;
}

/** Allocating convenience decoder (not for the per-packet path). */
export const decodeEthernet = (buf: Uint8Array, off = 0, end = buf.length): EthernetHeader | undefined => {
  const p = ethPayloadOffset(buf, off, end);
  if (p < 0) return undefined;
  return {
    dst: ethDst(buf, off),
    src: ethSrc(buf, off),
    ethertype: (buf[p - 2]! << 8) | buf[p - 1]!,
    vlan: ethVlanId(buf, off, end),
    payloadOffset: p,
  };
};
