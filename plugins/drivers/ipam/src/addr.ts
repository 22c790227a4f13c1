/**
 * Small address helpers (the allocator needs only parse, format and prefix arithmetic). Addresses
 * are bigints so IPv4 and IPv6 share one code path outside the bitmap's hot loop.
 */

import { formatIPv4, scanIPv4 } from '@weft/net';

export type Family = 4 | 6;

export interface Addr {
  readonly family: Family;
  readonly value: bigint;
}

/** A prefix in canonical form: host bits of `base` are zero. */
export interface Prefix {
  readonly family: Family;
  readonly base: bigint;
  readonly bits: number;
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

/** A canonical dotted quad's value, or undefined (this runs on every ReleaseAddress: @weft/net's allocation-free scan). */
export function parseIPv4(s: string): number | undefined {
  const v = scanIPv4(s);
  return v < 0 ? undefined : v;
}

export { formatIPv4 };

export function parseIPv6(s: string): bigint | undefined {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let tail = s;
  let v4: number | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = tail.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...Array<string>(8 - total).fill('0'), ...rest];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  if (v4 !== undefined) value = (value & ~0xffffffffn) | BigInt(v4);
  return value;
}

/** RFC 5952 text form: lower case, longest run of two or more zero groups compressed. */
export function formatIPv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function parseAddr(s: string): Addr | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { family: 4, value: BigInt(v4) };
  const v6 = parseIPv6(s);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function formatAddr(a: Addr): string {
  return a.family === 4 ? formatIPv4(Number(a.value)) : formatIPv6(a.value);
}

export function hostMask(p: { family: Family; bits: number }): bigint {
  return (1n << BigInt(familyBits(p.family) - p.bits)) - 1n;
}

/** Parses `A/len`; host bits are cleared (Docker masks them too). */
export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const a = parseAddr(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (a === undefined || !/^\d{1,3}$/.test(lenText)) return undefined;
  const bits = Number(lenText);
  if (bits > familyBits(a.family)) return undefined;
  const base = a.value & ~hostMask({ family: a.family, bits });
  return { family: a.family, base, bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddr({ family: p.family, value: p.base })}/${p.bits}`;
}

export const prefixSize = (p: Prefix): bigint => 1n << BigInt(familyBits(p.family) - p.bits);
export const prefixLast = (p: Prefix): bigint => p.base + prefixSize(p) - 1n;

export function prefixContains(p: Prefix, a: Addr | Prefix): boolean {
  if (p.family !== a.family) return false;
  const v = 'value' in a ? a.value : a.base;
  const last = 'value' in a ? a.value : prefixLast(a);
  return v >= p.base && last <= prefixLast(p);
}

export function prefixOverlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.base <= prefixLast(b) && b.base <= prefixLast(a);
}

export function samePrefix(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.base === b.base && a.bits === b.bits;
}

/** The `i`-th subnet of length `bits` inside `p`. */
export function subnetAt(p: Prefix, bits: number, i: bigint): Prefix {
  return { family: p.family, bits, base: p.base + i * (1n << BigInt(familyBits(p.family) - bits)) };
}
