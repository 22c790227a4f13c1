/**
 * CIDR prefixes ("10.0.0.0/24", "fd00::/64").
 *
 * A `Cidr` always holds the network address (host bits zero). Sizes and
 * indexes are bigints so IPv4 and IPv6 share one API; `cidr4ContainsIPv4` is a
 * number-only fast path for per-packet use.
 */
import { type Result, ok, err } from './result.ts';
import type { IP } from './ip.ts';
import { ipv4, ipv6, parseIP, formatIP } from './ip.ts';

export interface Cidr4 {
  readonly family: 4;
  /** Network address, host bits zero. */
  readonly addr: number;
  readonly prefix: number;
}
export interface Cidr6 {
  readonly family: 6;
  readonly addr: bigint;
  readonly prefix: number;
}
export type Cidr = Cidr4 | Cidr6;

export interface ParseCidrOptions {
  /** Reject host bits set ("10.0.0.1/24") instead of clearing them. Default false. */
  readonly strict?: boolean;
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);
const ALL = (bits: number): bigint => (1n << BigInt(bits)) - 1n;
const hostMask = (bits: number, prefix: number): bigint => (1n << BigInt(bits - prefix)) - 1n;
const valueOf = (c: Cidr): bigint => (c.family === 4 ? BigInt(c.addr) : c.addr);
const ipOf = (family: 4 | 6, v: bigint): IP => (family === 4 ? ipv4(Number(v)) : ipv6(v));
const mk = (family: 4 | 6, v: bigint, prefix: number): Cidr =>
  family === 4 ? { family: 4, addr: Number(v), prefix } : { family: 6, addr: v, prefix };

/** IPv4 netmask for a prefix length 0-32 as an unsigned number (24 -> 0xffffff00). */
export const ipv4PrefixMask = (prefix: number): number => (prefix <= 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Builds a prefix from any address in it (host bits are cleared). Throws on an impossible prefix length — a programming error. */
export const makeCidr = (ip: IP, prefix: number): Cidr => {
  const bits = bitsOf(ip.family);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new RangeError(`prefix length ${prefix} is out of range for IPv${ip.family} (0-${bits})`);
  }
  const v = (ip.family === 4 ? BigInt(ip.value) : ip.value) & (ALL(bits) ^ hostMask(bits, prefix));
  return mk(ip.family, v, prefix);
};

export const parseCidr = (s: string, options: ParseCidrOptions = {}): Result<Cidr> => {
  const q = JSON.stringify(s);
  const slash = s.indexOf('/');
  if (slash < 0) return err(`invalid CIDR ${q}: expected address/prefix-length, such as "10.0.0.0/24" or "fd00::/64"`);
  const a = parseIP(s.slice(0, slash));
  if (!a.ok) return err(`invalid CIDR ${q}: ${a.error}`);
  const bits = bitsOf(a.value.family);
  const p = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > bits) {
    return err(`invalid CIDR ${q}: prefix length must be a decimal number 0-${bits}`);
  }
  const prefix = Number(p);
  const c = makeCidr(a.value, prefix);
  if (options.strict === true) {
    const raw = a.value.family === 4 ? BigInt(a.value.value) : a.value.value;
    if (raw !== valueOf(c)) {
      return err(`invalid CIDR ${q}: host bits are set; did you mean "${formatCidr(c)}"?`);
    }
  }
  return ok(c);
};

export const formatCidr = (c: Cidr): string => `${formatIP(cidrNetwork(c))}/${c.prefix}`;

/** Number of addresses covered, 2^(bits - prefix). */
export const cidrSize = (c: Cidr): bigint => 1n << BigInt(bitsOf(c.family) - c.prefix);

/** First address (all host bits zero). */
export const cidrNetwork = (c: Cidr): IP => ipOf(c.family, valueOf(c));

/** Last address (all host bits one): the broadcast address for IPv4. */
export const cidrLast = (c: Cidr): IP => ipOf(c.family, valueOf(c) | hostMask(bitsOf(c.family), c.prefix));
export const cidrBroadcast = cidrLast;

export const cidrContains = (c: Cidr, ip: IP): boolean => {
  if (c.family !== ip.family) return false;
  if (c.family === 4) return cidr4ContainsIPv4(c, ip.value as number);
  const bits = 128;
  return ((ip.value as bigint) & (ALL(bits) ^ hostMask(bits, c.prefix))) === c.addr;
};

/** Allocation-free IPv4 membership test. */
export const cidr4ContainsIPv4 = (c: Cidr4, addr: number): boolean =>
  ((addr & ipv4PrefixMask(c.prefix)) >>> 0) === c.addr;

/** True if every address of `inner` is in `outer`. */
export const cidrContainsCidr = (outer: Cidr, inner: Cidr): boolean =>
  outer.family === inner.family && outer.prefix <= inner.prefix && cidrContains(outer, cidrNetwork(inner));

/** True if the two prefixes share at least one address (prefixes nest or are disjoint). */
export const cidrOverlaps = (a: Cidr, b: Cidr): boolean => cidrContainsCidr(a, b) || cidrContainsCidr(b, a);

/** The `n`th address (0 = network address); `undefined` if outside the prefix. */
export const cidrNth = (c: Cidr, n: number | bigint): IP | undefined => {
  if (typeof n === 'number' && !Number.isSafeInteger(n)) return undefined;
  const i = BigInt(n);
  if (i < 0n || i >= cidrSize(c)) return undefined;
  return ipOf(c.family, valueOf(c) + i);
};

/** Offset of `ip` from the network address; `undefined` if not inside. */
export const cidrIndexOf = (c: Cidr, ip: IP): bigint | undefined => {
  if (!cidrContains(c, ip)) return undefined;
  return (ip.family === 4 ? BigInt(ip.value) : ip.value) - valueOf(c);
};

/** How many /newPrefix sub-prefixes `c` splits into (0 if newPrefix is shorter than c's or too long). */
export const cidrSubnetCount = (c: Cidr, newPrefix: number): bigint => {
  if (!Number.isInteger(newPrefix) || newPrefix < c.prefix || newPrefix > bitsOf(c.family)) return 0n;
  return 1n << BigInt(newPrefix - c.prefix);
};

/** The `i`th /newPrefix sub-prefix of `c`, or `undefined` if out of range. */
export const cidrSubnetAt = (c: Cidr, newPrefix: number, i: number | bigint): Cidr | undefined => {
  if (typeof i === 'number' && !Number.isSafeInteger(i)) return undefined;
  const count = cidrSubnetCount(c, newPrefix);
  const k = BigInt(i);
  if (k < 0n || k >= count) return undefined;
  return mk(c.family, valueOf(c) + (k << BigInt(bitsOf(c.family) - newPrefix)), newPrefix);
};

/**
 * Lazily yields the /newPrefix sub-prefixes of `c` in address order, starting
 * at index `from`. Nothing is materialised, so 10.0.0.0/8 -> /24 (65 536
 * prefixes) or fd00::/8 -> /64 cost only what the caller consumes.
 */
export function* cidrSubnets(c: Cidr, newPrefix: number, from: number | bigint = 0n): Generator<Cidr, void, undefined> {
  if (typeof from === 'number' && !Number.isSafeInteger(from)) return;
  const count = cidrSubnetCount(c, newPrefix);
  const step = 1n << BigInt(bitsOf(c.family) - newPrefix);
  const base = valueOf(c);
  for (let k = BigInt(from); k < count; k++) yield mk(c.family, base + k * step, newPrefix);
}

/** The prefix of the same length immediately after `c`; `undefined` at the end of the address space. */
export const cidrNext = (c: Cidr): Cidr | undefined => {
  const bits = bitsOf(c.family);
  const v = valueOf(c) + cidrSize(c);
  if (v > ALL(bits)) return undefined;
  return mk(c.family, v, c.prefix);
};

/** Orders by family, then network address, then prefix length (shorter first). */
export const compareCidr = (a: Cidr, b: Cidr): -1 | 0 | 1 => {
  if (a.family !== b.family) return a.family === 4 ? -1 : 1;
  const va = valueOf(a);
  const vb = valueOf(b);
  if (va !== vb) return va < vb ? -1 : 1;
  return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
};

export const cidrEquals = (a: Cidr, b: Cidr): boolean => compareCidr(a, b) === 0;
