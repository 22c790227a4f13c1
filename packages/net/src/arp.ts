/**
 * ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800,
 * hlen 6, plen 4, so the packet is exactly 28 bytes.
 *
 *   0  htype(2) ptype(2) hlen(1) plen(1) op(2)
 *   8  sender MAC(6) sender IP(4)
 *  18  target MAC(6) target IP(4)
 */
import { readMac, writeMac } from './mac.ts';
import { readIPv4, writeIPv4 } from './ip.ts';
import { ETHERTYPE_ARP, ETH_HEADER_LEN, ethPayloadOffset, ethSrc, writeEthHeader } from './ethernet.ts';

export const ARP_LEN = 28;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

/** True if buf[off, end) starts with a well-formed IPv4-over-Ethernet ARP packet (any opcode). */
export const arpValid = (buf: Uint8Array, off = 0, end = buf.length): boolean =>
  off >= 0 &&
  off + ARP_LEN <= Math.min(end, buf.length) &&
  buf[off] === 0 && buf[off + 1] === 1 &&
  buf[off + 2] === 0x08 && buf[off + 3] === 0x00 &&
  buf[off + 4] === 6 && buf[off + 5] === 4;

// Accessors below assume `arpValid(buf, off)`.
export const arpOp = (buf: Uint8Array, off: number): number => (buf[off + 6]! << 8) | buf[off + 7]!;
export const arpSenderMac = (buf: Uint8Array, off: number): number => readMac(buf, off + 8);
export const arpSenderIp = (buf: Uint8Array, off: number): number => readIPv4(buf, off + 14);
export const arpTargetMac = (buf: Uint8Array, off: number): number => readMac(buf, off + 18);
export const arpTargetIp = (buf: Uint8Array, off: number): number => readIPv4(buf, off + 24);

/** Writes a 28-byte ARP packet; returns the offset after it. Caller guarantees room. */
export const writeArp = (
  out: Uint8Array,
  off: number,
  op: number,
  senderMac: number,
  senderIp: number,
  targetMac: number,
  targetIp: number,
): number => {
  out[off] = 0;
  out[off + 1] = 1;
  out[off + 2] = 0x08;
  out[off + 3] = 0x00;
  out[off + 4] = 6;
  out[off + 5] = 4;
  out[off + 6] = op >>> 8;
  out[off + 7] = op;
  writeMac(out, off + 8, senderMac);
  writeIPv4(out, off + 14, senderIp);
  writeMac(out, off + 18, targetMac);
  writeIPv4(out, off + 24, targetIp);
  return off + ARP_LEN;
};

/**
 * Proxy ARP: given an Ethernet frame holding an ARP request (`req`), writes
 * the Ethernet + ARP reply that says "targetIp is at `answerMac`" into `out`
 * at `outOff`. Returns the reply length (42), or `-1` if `req` is not an
 * untagged IPv4 ARP request or `out` lacks room. The reply is sent unicast to
 * the requester; VLAN tags are not reproduced. Deciding whether to answer
 * (is `arpTargetIp` ours to proxy? skip gratuitous ARP, where sender IP ==
 * target IP) is the caller's job. `out` must not overlap the request.
 */
export const writeArpReplyFrame = (
  out: Uint8Array,
  outOff: number,
  req: Uint8Array,
  reqOff: number,
  reqEnd: number,
  answerMac: number,
): number => {
  const p = ethPayloadOffset(req, reqOff, reqEnd);
  if (p !== reqOff + ETH_HEADER_LEN) return -1;
  if (req[p - 2] !== 0x08 || req[p - 1] !== 0x06) return -1;
  if (!arpValid(req, p, reqEnd) || arpOp(req, p) !== ARP_OP_REQUEST) return -1;
  if (outOff < 0 || outOff + ETH_HEADER_LEN + ARP_LEN > out.length) return -1;
  const requesterMac = arpSenderMac(req, p);
  const requesterIp = arpSenderIp(req, p);
  const askedIp = arpTargetIp(req, p);
  const src = ethSrc(req, reqOff);
  const q = writeEthHeader(out, outOff, src, answerMac, ETHERTYPE_ARP);
  writeArp(out, q, ARP_OP_REPLY, answerMac, askedIp, requesterMac, requesterIp);
  return ETH_HEADER_LEN + ARP_LEN;
};

export interface ArpPacket {
  readonly op: number;
  readonly senderMac: number;
  readonly senderIp: number;
  readonly targetMac: number;
  readonly targetIp: number;
}

/** Allocating convenience decoder. */
export const decodeArp = (buf: Uint8Array, off = 0, end = buf.length): ArpPacket | undefined =>
  arpValid(buf, off, end)
    ? {
        op: arpOp(buf, off),
        senderMac: arpSenderMac(buf, off),
        senderIp: arpSenderIp(buf, off),
        targetMac: arpTargetMac(buf, off),
        targetIp: arpTargetIp(buf, off),
      }
    : undefined;
