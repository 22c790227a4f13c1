/**
 * IPv6 neighbour proxy (RFC 4861 §7.2): a Neighbor Solicitation from a local port for an
 * address in the table is answered with a solicited, override Neighbor Advertisement carrying
 * the target link-layer address, so ND (like ARP) never leaves the host. DAD probes (source ::)
 * are not answered.
 */
import { ETH, fold, readMac, readU16, sum16, writeMac, writeU16 } from './frames.ts';

/** 16 bytes of an IPv6 address as a map key. */
export function ipv6Key(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 16; i += 2) s += ((b[o + i]! << 8) | b[o + i + 1]!).toString(16) + ':';
  return s;
}

/** Parses textual IPv6 (with `::`, without zone or embedded IPv4) to the same key form. */
export function ipv6TextKey(text: string): string {
  if (text.split('::').length > 2) throw new Error(`Bad IPv6 address "${text}"`);
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new Error(`Bad IPv6 address "${text}"`);
  return groups.map((g) => parseInt(g, 16).toString(16) + ':').join('');
}

/**
 * If b[f..f+len) is an ICMPv6 Neighbor Solicitation, returns its target key, else undefined.
 */
export function nsTarget(b: Uint8Array, f: number, len: number): string | undefined {
  const ip = f + ETH;
  if (len < ETH + 40 + 24 || readU16(b, f + 12) !== 0x86dd || b[ip + 6] !== 58 || b[ip + 7] !== 255) return undefined;
  if (b[ip + 40] !== 135 || b[ip + 41] !== 0) return undefined;
  let unspecified = true;
  for (let i = 0; i < 16; i++) if (b[ip + 8 + i] !== 0) unspecified = false;
  if (unspecified) return undefined;
  return ipv6Key(b, ip + 40 + 8);
}

/** Rewrites the NS at f into the NA for `mac`; returns the new frame length. */
export function ndAdvertInPlace(b: Uint8Array, f: number, mac: number): number {
  const ip = f + ETH;
  const icmp = ip + 40;
  // Ethernet: back to the solicitor, from the target.
  b.copyWithin(f, f + 6, f + 12);
  writeMac(b, f + 6, mac);
  // IPv6: from the target address, to the solicitor; payload 32 bytes.
  b.copyWithin(ip + 24, ip + 8, ip + 24);
  b.copyWithin(ip + 8, icmp + 8, icmp + 24);
  writeU16(b, ip + 4, 32);
  b[ip + 7] = 255;
  b[icmp] = 136;
  b[icmp + 1] = 0;
  b[icmp + 4] = 0x60; // Solicited | Override
  b[icmp + 5] = 0;
  b[icmp + 6] = 0;
  b[icmp + 7] = 0;
  b[icmp + 24] = 2; // Target Link-Layer Address
  b[icmp + 25] = 1;
  writeMac(b, icmp + 26, mac);
  writeU16(b, icmp + 2, 0);
  const s = sum16(b, ip + 8, ip + 40, 32 + 58);
  writeU16(b, icmp + 2, ~fold(sum16(b, icmp, icmp + 32, s)) & 0xffff);
  return ETH + 40 + 32;
}

/**
 * If b[f..f+len) is an ICMPv6 Echo Request (RFC 4443 §4.1) to one of `gateways` (address keys),
 * rewrites it in place into the Echo Reply from the gateway's `mac` and returns the reply's
 * length; else 0. The IPv6 counterpart of `icmpEchoReplyInPlace`: the gateway answers ping -6.
 */
export function icmp6EchoReplyInPlace(b: Uint8Array, f: number, len: number, mac: number, gateways: readonly string[]): number {
  const ip = f + ETH;
  if (gateways.length === 0 || len < ETH + 40 + 8 || readU16(b, f + 12) !== 0x86dd || b[ip + 6] !== 58) return 0;
  const plen = readU16(b, ip + 4);
  const icmp = ip + 40;
  if (plen < 8 || ETH + 40 + plen > len || b[icmp] !== 128 || b[icmp + 1] !== 0) return 0;
  if (!gateways.includes(ipv6Key(b, ip + 24))) return 0;
  const src = readMac(b, f + 6);
  writeMac(b, f, src);
  writeMac(b, f + 6, mac);
  const from = b.slice(ip + 8, ip + 24);
  b.copyWithin(ip + 8, ip + 24, ip + 40);
  b.set(from, ip + 24);
  b[ip + 7] = 64;
  b[icmp] = 129;
  writeU16(b, icmp + 2, 0);
  const s = sum16(b, ip + 8, ip + 40, plen + 58);
  writeU16(b, icmp + 2, ~fold(sum16(b, icmp, icmp + plen, s)) & 0xffff);
  return ETH + 40 + plen;
}
