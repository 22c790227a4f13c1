/**
 * @weft/net: pure network primitives (addresses, prefixes, frame codecs, DNS).
 * No I/O and no dependencies; runs on Node and Deno.
 */
export * from './result.ts';
export * from './ip.ts';
export * from './cidr.ts';
export * from './mac.ts';
export * from './checksum.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './ipv4.ts';
export * from './ipv6.ts';
export * from './udp.ts';
export * from './icmp.ts';
export * from './vxlan.ts';
export * from './dns.ts';
export * from './crc32.ts';
