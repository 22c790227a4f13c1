/**
 * Embedded DNS in the switch. The worker recognises IPv4 UDP datagrams to port 53 addressed to a
 * network's resolver (its gateway unless `DataPathNetwork.resolver` is set) on frames already sent
 * to the gateway MAC, so no other frame pays for it, and posts the frame to the controller. There
 * the `dns` service answers (synchronously, or after an upstream forward) for the client the frame
 * came from (`readDnsClient`), and the reply is written back to the sandbox's TAP as an IPv4/UDP frame from the resolver address.
 */
import { ETH, readMac, readU16, readU32, sum16, fold, writeMac, writeU16, writeU32 } from './frames.ts';

/** A `DnsClient` (the kernel's `dns` contract) the controller fills for each query and reuses. */
export interface MutableDnsClient {
  ipv4: number;
  mac: number;
}

/**
 * Who sent a query frame accepted by `isDnsQuery`: its IPv4 source address and source MAC, written
 * into `into` (the resolver answers that sandbox from all of its networks). No allocation.
 */
export function readDnsClient(frame: Uint8Array, into: MutableDnsClient): MutableDnsClient {
  into.ipv4 = readU32(frame, ETH + 12);
  into.mac = readMac(frame, 6);
  return into;
}

/** Worker → controller message for one intercepted query. */
export interface DnsQueryMsg {
  readonly t: 'dns';
  readonly vni: number;
  /** Counter row of the port the query came from. */
  readonly row: number;
  /** The Ethernet frame (no virtio header). */
  readonly frame: Uint8Array;
}

/**
 * True when the frame at b[f..f+len) is an unfragmented IPv4/UDP datagram to port 53 of one of
 * `ips`. Called only for frames to the gateway MAC.
 */
export function isDnsQuery(b: Uint8Array, f: number, len: number, ips: readonly number[]): boolean {
  if (ips.length === 0 || len < ETH + 28 || readU16(b, f + 12) !== 0x0800) return false;
  const ip = f + ETH;
  if (b[ip + 9] !== 17 || (b[ip]! >>> 4) !== 4 || (readU16(b, ip + 6) & 0x3fff) !== 0) return false;
  const ihl = (b[ip]! & 15) * 4;
  if (ihl < 20 || ETH + ihl + 8 > len || readU16(b, ip + ihl + 2) !== 53) return false;
  return ips.includes(readU32(b, ip + 16));
}

/** The DNS payload of a query frame accepted by `isDnsQuery`, or undefined for a bad UDP length. */
export function dnsPayload(frame: Uint8Array): Uint8Array | undefined {
  const ip = ETH;
  const ihl = (frame[ip]! & 15) * 4;
  const udp = ip + ihl;
  const ulen = readU16(frame, udp + 4);
  const totalLen = readU16(frame, ip + 2);
  if (ulen < 8 || udp + ulen > frame.length || ihl + ulen > totalLen) return undefined;
  return frame.subarray(udp + 8, udp + ulen);
}

/**
 * Writes into `out` at `o` the reply frame to `query` carrying `payload`: Ethernet from `gwMac`
 * to the query's source MAC, IPv4 from the address the query was sent to, UDP 53 → the query's
 * source port, both checksums complete (RFC 791 §3.1, RFC 768). Returns the frame length.
 */
export function buildDnsReply(query: Uint8Array, payload: Uint8Array, gwMac: number, out: Uint8Array, o: number): number {
  const qip = ETH;
  const qihl = (query[qip]! & 15) * 4;
  const qudp = qip + qihl;
  out.set(query.subarray(6, 12), o); // destination: the client's MAC
  writeMac(out, o + 6, gwMac);
  writeU16(out, o + 12, 0x0800);
  const ip = o + ETH;
  const ulen = 8 + payload.length;
  out[ip] = 0x45;
  out[ip + 1] = 0;
  writeU16(out, ip + 2, 20 + ulen);
  writeU16(out, ip + 4, 0);
  writeU16(out, ip + 6, 0x4000); // DF
  out[ip + 8] = 64;
  out[ip + 9] = 17;
  writeU16(out, ip + 10, 0);
  writeU32(out, ip + 12, readU32(query, qip + 16));
  writeU32(out, ip + 16, readU32(query, qip + 12));
  writeU16(out, ip + 10, ~fold(sum16(out, ip, ip + 20, 0)) & 0xffff);
  const udp = ip + 20;
  writeU16(out, udp, 53);
  writeU16(out, udp + 2, readU16(query, qudp));
  writeU16(out, udp + 4, ulen);
  writeU16(out, udp + 6, 0);
  out.set(payload, udp + 8);
  // Pseudo-header: source, destination, protocol, UDP length.
  let s = sum16(out, ip + 12, ip + 20, 0) + 17 + ulen;
  s = sum16(out, udp, udp + ulen, s);
  writeU16(out, udp + 6, ~fold(s) & 0xffff || 0xffff);
  return ETH + 20 + ulen;
}
