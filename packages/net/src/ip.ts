/**
 * IP addresses.
 *
 * - IPv4 is an unsigned 32-bit integer held in a JS number (0 .. 2^32-1).
 * - IPv6 is a 128-bit unsigned `bigint`; `ipv6ToBytes`/`ipv6FromBytes` convert
 *   to and from the 16-byte network-order form found in packets.
 * - `IP` tags either with its family, for code that handles both.
 */
import { type Result, ok, err } from './result.ts';

export interface IPv4Address {
  readonly family: 4;
  readonly value: number;
}
export interface IPv6Address {
  readonly family: 6;
  readonly value: bigint;
}
export type IP = IPv4Address | IPv6Address;

export const IPV4_MAX = 0xffffffff;
export const IPV6_MAX = (1n << 128n) - 1n;

export const ipv4 = (value: number): IPv4Address => ({ family: 4, value: value >>> 0 });
export const ipv6 = (value: bigint): IPv6Address => ({ family: 6, value: BigInt.asUintN(128, value) });

// ---------------------------------------------------------------------------
// IPv4

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

const IPV4_WHY = [
  '',
  'expected a dotted quad such as "10.0.0.1"',
  'whitespace is not allowed',
  'each part must be 0-255',
  'expected four decimal parts 0-255 separated by dots, such as "10.0.0.1"',
  'leading zeros are not allowed',
] as const;

/**
 * The value of a canonical dotted quad, or a negative code (`-n` indexes the reason
 * `parseIPv4` reports). Allocates nothing: for callers that parse on a hot path and only need
 * "valid or not" (the IPAM's ReleaseAddress); everyone else uses `parseIPv4`.
 */
export const scanIPv4 = (s: string): number => {
  if (s.length === 0) return -1;
  const v = scanDigits(s);
  // Whitespace anywhere is the reason given, as before any other.
  return v < 0 && /\s/.test(s) ? -2 : v;
};

const scanDigits = (s: string): number => {
  let value = 0;
  let parts = 0;
  let i = 0;
  while (i <= s.length) {
    const start = i;
    let part = 0;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      part = part * 10 + (s.charCodeAt(i) - 48);
      i++;
      if (i - start > 3) return -3;
    }
    if (i === start) return -4;
    if (i - start > 1 && s.charCodeAt(start) === 48) return -5;
    if (part > 255) return -3;
    value = value * 256 + part;
    parts++;
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 46 /* . */ || parts === 4) return -4;
    i++;
  }
  if (parts !== 4) return -4;
  return value;
};

/**
 * Parses a canonical dotted quad ("10.0.0.1"). Rejects leading zeros ("01.2.3.4",
 * ambiguous with the octal form some libc parsers accept), fewer than four parts,
 * whitespace, signs and parts above 255.
 */
export const parseIPv4 = (s: string): Result<number> => {
  const v = scanIPv4(s);
  return v >= 0 ? ok(v) : err(`invalid IPv4 address ${JSON.stringify(s)}: ${IPV4_WHY[-v]}`);
};

export const formatIPv4 = (n: number): string =>
  `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Reads a network-order IPv4 address; caller guarantees `off + 4 <= buf.length`. */
export const readIPv4 = (buf: Uint8Array, off: number): number =>
  ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;

export const writeIPv4 = (buf: Uint8Array, off: number, n: number): void => {
  buf[off] = n >>> 24;
  buf[off + 1] = n >>> 16;
  buf[off + 2] = n >>> 8;
  buf[off + 3] = n;
};

// ---------------------------------------------------------------------------
// IPv6

const hexVal = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
};

/** Parses one side of "::" into 16-bit groups; returns undefined + reason on failure. */
const parseGroups = (
  part: string,
  allowTrailingV4: boolean,
  out: number[],
): string | undefined => {
  if (part.length === 0) return undefined;
  const fields = part.split(':');
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!;
    if (f.length === 0) return 'empty group (a single ":" where "::" or a group was expected)';
    if (k === fields.length - 1 && f.includes('.')) {
      if (!allowTrailingV4) return 'an embedded IPv4 address may only appear in the last 32 bits';
      const v4 = parseIPv4(f);
      if (!v4.ok) return `embedded IPv4 part ${JSON.stringify(f)} is not a valid dotted quad`;
      out.push(v4.value >>> 16, v4.value & 0xffff);
      continue;
    }
    if (f.length > 4) return `group ${JSON.stringify(f)} has more than 4 hex digits`;
    let g = 0;
    for (let j = 0; j < f.length; j++) {
      const h = hexVal(f.charCodeAt(j));
      if (h < 0) return `group ${JSON.stringify(f)} is not hexadecimal`;
      g = g * 16 + h;
    }
    out.push(g);
  }
  return undefined;
};

/**
 * Parses an IPv6 address in RFC 4291 §2.2 text form: eight hex groups, optional
 * single "::", optional trailing dotted-quad IPv4. Zone ids ("%eth0") are rejected.
 */
export const parseIPv6 = (s: string): Result<bigint> => {
  const bad = (why: string) => err<bigint>(`invalid IPv6 address ${JSON.stringify(s)}: ${why}`);
  if (s.length === 0 || s.length > 45) return bad('expected eight hex groups separated by ":", such as "fd00::1"');
  if (/\s/.test(s)) return bad('whitespace is not allowed');
  if (s.includes('%')) return bad('zone identifiers ("%eth0") are not supported');
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return bad('"::" may appear only once');
  const head: number[] = [];
  const tail: number[] = [];
  let why: string | undefined;
  if (dbl >= 0) {
    why = parseGroups(s.slice(0, dbl), false, head) ?? parseGroups(s.slice(dbl + 2), true, tail);
    if (why === undefined && head.length + tail.length > 7) why = 'too many groups for "::" to stand for at least one zero group';
  } else {
    why = parseGroups(s, true, head);
    if (why === undefined && head.length !== 8) why = `expected 8 groups, found ${head.length}`;
  }
  if (why !== undefined) return bad(why);
  let v = 0n;
  for (const g of head) v = (v << 16n) | BigInt(g);
  for (let k = head.length + tail.length; k < 8; k++) v <<= 16n;
  for (const g of tail) v = (v << 16n) | BigInt(g);
  return ok(v);
};

/** Formats per RFC 5952 §4: lowercase, no leading zeros, longest zero run (>= 2 groups, first on tie) as "::", and ::ffff:a.b.c.d for IPv4-mapped (§5). */
export const formatIPv6 = (value: bigint): string => {
  const v = BigInt.asUintN(128, value);
  const groups: number[] = new Array<number>(8);
  for (let k = 0; k < 8; k++) groups[k] = Number((v >> BigInt(112 - 16 * k)) & 0xffffn);
  if (v >> 32n === 0xffffn) return `::ffff:${formatIPv4(Number(v & 0xffffffffn))}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (a: number, b: number) => groups.slice(a, b).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
};

/** Reads 16 network-order bytes at `off` as a bigint; caller guarantees bounds. */
export const ipv6FromBytes = (buf: Uint8Array, off = 0): bigint => {
  let hi = 0n;
  for (let k = 0; k < 16; k += 4) {
    const w = ((buf[off + k]! << 24) | (buf[off + k + 1]! << 16) | (buf[off + k + 2]! << 8) | buf[off + k + 3]!) >>> 0;
    hi = (hi << 32n) | BigInt(w);
  }
  return hi;
};

/** Writes `value` as 16 network-order bytes into `out` at `off` (allocates a buffer if none given). */
export const ipv6ToBytes = (value: bigint, out: Uint8Array = new Uint8Array(16), off = 0): Uint8Array => {
  let v = BigInt.asUintN(128, value);
  for (let k = 15; k >= 0; k -= 4) {
    const w = Number(v & 0xffffffffn);
    out[off + k] = w;
    out[off + k - 1] = w >>> 8;
    out[off + k - 2] = w >>> 16;
    out[off + k - 3] = w >>> 24;
    v >>= 32n;
  }
  return out;
};

// ---------------------------------------------------------------------------
// Either family

/** Parses IPv4 or IPv6 (decided by the presence of ":"). */
export const parseIP = (s: string): Result<IP> => {
  if (s.includes(':')) {
    const r = parseIPv6(s);
    return r.ok ? ok(ipv6(r.value)) : r;
  }
  const r = parseIPv4(s);
  if (r.ok) return ok(ipv4(r.value));
  return s.length > 0 && !/[0-9.]/.test(s[0]!) && s.length <= 64
    ? err(`invalid IP address ${JSON.stringify(s)}: expected an IPv4 dotted quad or an IPv6 address`)
    : r;
};

export const formatIP = (ip: IP): string => (ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value));

/** Total order: every IPv4 address sorts before every IPv6 address, then by value. */
export const compareIP = (a: IP, b: IP): -1 | 0 | 1 => {
  if (a.family !== b.family) return a.family === 4 ? -1 : 1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
};

export const ipEquals = (a: IP, b: IP): boolean => a.family === b.family && a.value === b.value;

/** Adds a (possibly negative) offset; `undefined` if the result leaves the address space. */
export const addIP = (ip: IP, offset: number | bigint): IP | undefined => {
  if (typeof offset === 'number' && !Number.isSafeInteger(offset)) return undefined;
  if (ip.family === 4) {
    const v = typeof offset === 'bigint' ? BigInt(ip.value) + offset : BigInt(ip.value) + BigInt(offset);
    return v < 0n || v > 0xffffffffn ? undefined : ipv4(Number(v));
  }
  const v = ip.value + BigInt(offset);
  return v < 0n || v > IPV6_MAX ? undefined : ipv6(v);
};

/** Bytes of an address in network order (4 or 16). */
export const ipToBytes = (ip: IP): Uint8Array => {
  if (ip.family === 6) return ipv6ToBytes(ip.value);
  const b = new Uint8Array(4);
  writeIPv4(b, 0, ip.value);
  return b;
};

/** The bigint value of an address of either family (IPv4 as 0 .. 2^32-1). */
export const ipValue = (ip: IP): bigint => (ip.family === 4 ? BigInt(ip.value) : ip.value);
