/**
 * Embedded DNS in the switch. The worker recognises UDP datagrams to port 53 addressed to a
 * network's resolver (its gateways, IPv4 and IPv6, unless `DataPathNetwork.resolver` is set) on
 * frames already sent to the gateway MAC, so no other frame pays for it, and posts the frame to
 * the controller. There the `dns` service answers (synchronously, or after an upstream forward)
 * for the client the frame came from (`readDnsClient`), and the reply is written back to the
 * sandbox's TAP as a UDP frame of the query's family from the resolver address.
 */
import { ETH, readMac, readU16, readU32, sum16, fold, writeMac, writeU16, writeU32 } from './frames.ts';
import { ipv6Key } from './nd.ts';

const IPV6 = 0x86dd;
/** IPv6 header length (the queries taken have no extension headers). */
const IP6 = 40;

/** A `DnsClient` (the kernel's `dns` contract) the controller fills for each query and reuses. */
export interface MutableDnsClient {
  ipv4: number;
  mac: number;
  ipv6: string | undefined;
}

/**
 * Who sent a query frame accepted by `isDnsQuery` or `isDnsQuery6`: its IPv4 source address (or,
 * over IPv6, 0 and the IPv6 source as text) and source MAC, written into `into` (the resolver
 * answers that sandbox from all of its networks). No allocation for IPv4 queries.
 */
export function readDnsClient(frame: Uint8Array, into: MutableDnsClient): MutableDnsClient {
  if (readU16(frame, 12) === IPV6) {
    into.ipv4 = 0;
    into.ipv6 = ipv6Key(frame, ETH + 8).slice(0, -1);
  } else {
    into.ipv4 = readU32(frame, ETH + 12);
    into.ipv6 = undefined;
  }
  into.mac = readMac(frame, 6);
  return into;
}

/**
 * True when the frame at b[f..f+len) is an IPv6/UDP datagram (no extension headers) to port 53 of
 * one of `keys` (`ipv6Key` form). Called only for frames to the gateway MAC.
 */
export function isDnsQuery6(b: Uint8Array, f: number, len: number, keys: readonly string[]): boolean {
  if (keys.length === 0 || len < ETH + IP6 + 8 || readU16(b, f + 12) !== IPV6) return false;
  const ip = f + ETH;
  if ((b[ip]! >>> 4) !== 6 || b[ip + 6] !== 17 || readU16(b, ip + IP6 + 2) !== 53) return false;
  return keys.includes(ipv6Key(b, ip + 24));
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

/** The DNS payload of a query frame accepted by `isDnsQuery` or `isDnsQuery6`, or undefined for a bad UDP length. */
export function dnsPayload(frame: Uint8Array): Uint8Array | undefined {
  if (readU16(frame, 12) === IPV6) {
    const udp = ETH + IP6;
    const ulen = readU16(frame, udp + 4);
    if (ulen < 8 || udp + ulen > frame.length || ulen > readU16(frame, ETH + 4)) return undefined;
    return frame.subarray(udp + 8, udp + ulen);
  }
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
 * to the query's source MAC, IPv4 (or IPv6, as the query) from the address the query was sent
 * to, UDP 53 → the query's source port, checksums complete (RFC 791 §3.1, RFC 768; over IPv6 the
 * UDP checksum is mandatory, RFC 8200 §8.1). Returns the frame length.
 */
export function buildDnsReply(query: Uint8Array, payload: Uint8Array, gwMac: number, out: Uint8Array, o: number): number {
  if (readU16(query, 12) === IPV6) return buildDnsReply6(query, payload, gwMac, out, o);
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

function buildDnsReply6(query: Uint8Array, payload: Uint8Array, gwMac: number, out: Uint8Array, o: number): number {
  out.set(query.subarray(6, 12), o); // destination: the client's MAC
  writeMac(out, o + 6, gwMac);
  writeU16(out, o + 12, IPV6);
  const ip = o + ETH;
  const ulen = 8 + payload.length;
  writeU32(out, ip, 0x60000000);
  writeU16(out, ip + 4, ulen);
  out[ip + 6] = 17;
  out[ip + 7] = 64;
  out.set(query.subarray(ETH + 24, ETH + 40), ip + 8); // from the address asked
  out.set(query.subarray(ETH + 8, ETH + 24), ip + 24); // to the client
  const udp = ip + IP6;
  writeU16(out, udp, 53);
  writeU16(out, udp + 2, readU16(query, ETH + IP6));
  writeU16(out, udp + 4, ulen);
  writeU16(out, udp + 6, 0);
  out.set(payload, udp + 8);
  // Pseudo-header: source, destination, upper-layer length, next header.
  let s = sum16(out, ip + 8, ip + 40, 0) + ulen + 17;
  s = sum16(out, udp, udp + ulen, s);
  writeU16(out, udp + 6, ~fold(s) & 0xffff || 0xffff);
  return ETH + IP6 + ulen;
}
