/**
 * Predefined pools (what an empty `Pool` draws from) and the choice of the next free one.
 * Defaults follow libnetwork's ipamutils: local 172.17-31.0.0/16 then 192.168.0.0/16 in /20s;
 * global 10.0.0.0/8 in /24s (swarm `--default-addr-pool` / `--default-addr-pool-mask-length`).
 * IPv6 defaults are ULA /48s (RFC 4193; global ID from the bytes of "Weft") split into /64s.
 */
import * as t from 'io-ts';
import { parseAddr, parsePrefix, prefixLast, prefixOverlaps, subnetAt, familyBits, type Prefix } from './addr.ts';

/** One predefined range: `base` split into subnets of prefix length `size` (daemon.json's form). */
export interface PredefinedPool {
  readonly base: string;
  readonly size: number;
}

export const DEFAULT_LOCAL_POOLS: readonly PredefinedPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];
export const DEFAULT_GLOBAL_POOLS: readonly PredefinedPool[] = [{ base: '10.0.0.0/8', size: 24 }];
export const DEFAULT_LOCAL_V6_POOLS: readonly PredefinedPool[] = [{ base: 'fd57:6566:7401::/48', size: 64 }];
export const DEFAULT_GLOBAL_V6_POOLS: readonly PredefinedPool[] = [{ base: 'fd57:6566:7400::/48', size: 64 }];

const PoolSpec = t.type({ base: t.string, size: t.number });

const IpamConfigFields = t.partial({
  /** Name of the local address space (GetDefaultAddressSpaces). Default `LocalDefault`. */
  localAddressSpace: t.string,
  /** Name of the global address space. Default `GlobalDefault`. */
  globalAddressSpace: t.string,
  /** Replaces the local IPv4 predefined pools (dockerd `default-address-pools`). */
  localPools: t.array(PoolSpec),
  /** Replaces the global IPv4 predefined pools. */
  globalPools: t.array(PoolSpec),
  /** swarm init `--default-addr-pool` (repeatable): global IPv4 bases, split by the mask length. */
  defaultAddrPool: t.array(t.string),
  /** swarm init `--default-addr-pool-mask-length`. Default 24. */
  defaultAddrPoolMaskLength: t.number,
  localV6Pools: t.array(PoolSpec),
  globalV6Pools: t.array(PoolSpec),
  /** Prefix length of the blocks the manager grants to hosts on global networks. Default 28. */
  blockPrefixLength: t.number,
});
export type IpamConfig = t.TypeOf<typeof IpamConfigFields>;

/** Why a configuration's pool lists cannot be used, or undefined when they can. */
export function checkConfigPools(cfg: IpamConfig): string | undefined {
  const lists: [readonly PredefinedPool[] | undefined, 4 | 6, string][] = [
    [cfg.localPools, 4, 'localPools'],
    [cfg.globalPools, 4, 'globalPools'],
    [cfg.defaultAddrPool?.map((base) => ({ base, size: cfg.defaultAddrPoolMaskLength ?? 24 })), 4, 'defaultAddrPool'],
    [cfg.localV6Pools, 6, 'localV6Pools'],
    [cfg.globalV6Pools, 6, 'globalV6Pools'],
  ];
  for (const [list, fam, what] of lists) {
    if (list === undefined) continue;
    const r = resolvePools(list, fam, what);
    if (!r.ok) return r.message;
  }
  const b = cfg.blockPrefixLength;
  if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > 128)) return `blockPrefixLength ${b} must be a prefix length between 1 and 128`;
  return undefined;
}

/** The plugin's configuration (all optional); pool lists are checked at load. */
export const IpamConfig = new t.Type<IpamConfig, IpamConfig, unknown>(
  'IpamConfig',
  IpamConfigFields.is,
  (u, c) => {
    const r = IpamConfigFields.validate(u, c);
    if (r._tag === 'Left') return r;
    const why = checkConfigPools(r.right);
    return why === undefined ? r : t.failure(u, c, why);
  },
  IpamConfigFields.encode,
);

export interface ResolvedPools {
  readonly v4: readonly { readonly base: Prefix; readonly size: number }[];
  readonly v6: readonly { readonly base: Prefix; readonly size: number }[];
}

/** Parses a pool list; returns the first bad entry's message. */
export function resolvePools(list: readonly PredefinedPool[], family: 4 | 6, what: string): { ok: true; pools: { base: Prefix; size: number }[] } | { ok: false; message: string } {
  const pools: { base: Prefix; size: number }[] = [];
  for (const [i, p] of list.entries()) {
    const base = parsePrefix(p.base);
    if (base === undefined || base.family !== family) {
      return { ok: false, message: `${what}[${i}].base ${JSON.stringify(p.base)} is not an IPv${family} prefix such as ${family === 4 ? '"10.0.0.0/8"' : '"fd00::/48"'}` };
    }
    if (!Number.isInteger(p.size) || p.size < base.bits || p.size > familyBits(family)) {
      return { ok: false, message: `${what}[${i}].size ${p.size} must be a prefix length between ${base.bits} and ${familyBits(family)} for base ${JSON.stringify(p.base)}` };
    }
    pools.push({ base, size: p.size });
  }
  return { ok: true, pools };
}

/**
 * Destinations of the host's routes (`ip route` lines or bare prefixes): the first token of each
 * entry, `default` and /0 ignored (Docker ignores the default route too), bare IPs as host routes.
 */
export function parseRoutes(lines: readonly string[]): Prefix[] {
  const out: Prefix[] = [];
  for (const line of lines) {
    const tok = line.trim().split(/\s+/)[0] ?? '';
    if (tok === '' || tok === 'default') continue;
    let p = parsePrefix(tok);
    if (p === undefined) {
      const a = parseAddr(tok);
      if (a !== undefined) p = { family: a.family, base: a.value, bits: familyBits(a.family) };
    }
    if (p !== undefined && p.bits > 0) out.push(p);
  }
  return out;
}

/** The first subnet of `pools` that overlaps nothing in `taken`. */
export function pickPool(pools: readonly { base: Prefix; size: number }[], taken: readonly Prefix[]): Prefix | undefined {
  for (const { base, size } of pools) {
    const relevant = taken.filter((x) => prefixOverlaps(x, base));
    const step = 1n << BigInt(familyBits(base.family) - size);
    const count = 1n << BigInt(size - base.bits);
    let i = 0n;
    while (i < count) {
      const cand = subnetAt(base, size, i);
      const hit = relevant.find((x) => prefixOverlaps(x, cand));
      if (hit === undefined) return cand;
      // Skip every candidate that the overlapping prefix still covers.
      const next = (prefixLast(hit) - base.base) / step + 1n;
      i = next > i ? next : i + 1n;
    }
  }
  return undefined;
}
