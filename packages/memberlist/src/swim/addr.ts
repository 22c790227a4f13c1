/** IP text <-> bytes (4 bytes IPv4, 16 bytes IPv6 / IPv4-mapped), through @weft/net's parsers and formatters. */
import { formatIPv4, formatIPv6, ipv6FromBytes, ipv6ToBytes, parseIPv6, readIPv4, scanIPv4, writeIPv4 } from '@weft/net';

export function ipToBytes(ip: string): Uint8Array | undefined {
  const v4 = scanIPv4(ip);
  if (v4 >= 0) {
    const out = new Uint8Array(4);
    writeIPv4(out, 0, v4);
    return out;
  }
  if (!ip.includes(':')) return undefined;
  const v6 = parseIPv6(ip);
  return v6.ok ? ipv6ToBytes(v6.value) : undefined;
}

/** Text of a 4- or 16-byte address ('' for any other length); IPv4-mapped IPv6 as a dotted quad. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return formatIPv4(readIPv4(b, 0));
  if (b.length === 16) {
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    if (mapped) return formatIPv4(readIPv4(b, 12));
    // RFC 5952 text, as the address is configured, given as a seed and reported by the socket
    // (inet_ntop): the `addr:port` keys members are found by must be equal for equal addresses,
    // or a seed on an IPv6 underlay is never recognised as the member it is.
    return formatIPv6(ipv6FromBytes(b, 0));
  }
  return '';
}

/** Parse a seed: `host`, `host:port`, `name/host:port`, `[v6]:port`. */
export function parseSeed(seed: string, defaultPort: number): { addr: string; port: number; name?: string } | undefined {
  let s = seed.trim();
  let name: string | undefined;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    name = s.slice(0, slash);
    s = s.slice(slash + 1);
  }
  let host = s;
  let port = defaultPort;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6 !== null) {
    host = v6[1] as string;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if (s.split(':').length > 2) {
    host = s; // a bare IPv6 address
  } else if (s.split(':').length === 2) {
    const [h, p] = s.split(':') as [string, string];
    host = h;
    port = Number(p);
  }
  const bytes = ipToBytes(host);
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || bytes === undefined) return undefined;
  // IPv6 in the same text as members' addresses (bytesToIp), so the seed is found among them.
  const addr = bytes.length === 16 ? bytesToIp(bytes) : host;
  return name === undefined ? { addr, port } : { addr, port, name };
}
