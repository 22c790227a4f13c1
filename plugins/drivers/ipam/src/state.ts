/**
 * IPAM state and its rules, synchronous and free of I/O: pools (libnetwork's "subnets" with their
 * sub-pools, reference-counted), addresses in per-subnet bitmaps, and the list of records each
 * change dirtied. `load` and `flush` move that state to and from a kernel Store.
 *
 * Layout in the store (keys relative to the plugin's scope):
 *   s/<gen>/m        subnet meta (JSON in a checksummed envelope): space, pool, refs, sub-pools
 *   s/<gen>/c/<ci>   one bitmap chunk (2^16 addresses, run-length encoded) + write seq + cursor
 * `gen` is never reused, so chunks left behind by a crash during ReleasePool are recognisable
 * orphans. Every RequestAddress/ReleaseAddress writes exactly one chunk record: one atomic put.
 */
import { errors, raise, WeftOptions, type Store, type WeftError } from '@weft/kernel';
import {
  formatAddr,
  formatIPv4,
  formatPrefix,
  parseAddr,
  parsePrefix,
  prefixContains,
  prefixLast,
  prefixOverlaps,
  prefixSize,
  samePrefix,
  type Addr,
  type Prefix,
} from './addr.ts';
import { AddressBitmap, CHUNK_SHIFT, MAX_BITS, Reader, decodeWords, encodeWords, writeVarint, writeVarintBig } from './bitmap.ts';
import { pickPool, type ResolvedPools } from './pools.ts';
import { RecordKind, decodeRecord, encodeRecord } from './record.ts';

/** Stable codes of this plugin's errors (the category says what kind, the code says which). */
export const IpamCodes = {
  unknownSpace: 'WEFT_IPAM_UNKNOWN_ADDRESS_SPACE',
  unknownPool: 'WEFT_IPAM_UNKNOWN_POOL',
  badPool: 'WEFT_IPAM_BAD_POOL',
  subPoolWithoutPool: 'WEFT_IPAM_SUBPOOL_WITHOUT_POOL',
  subPoolOutside: 'WEFT_IPAM_SUBPOOL_OUTSIDE_POOL',
  poolOverlap: 'WEFT_IPAM_POOL_OVERLAP',
  noPredefinedPool: 'WEFT_IPAM_NO_FREE_PREDEFINED_POOL',
  outOfPool: 'WEFT_IPAM_ADDRESS_OUT_OF_POOL',
  reservedAddress: 'WEFT_IPAM_RESERVED_ADDRESS',
  addressInUse: 'WEFT_IPAM_ADDRESS_IN_USE',
  notAllocated: 'WEFT_IPAM_ADDRESS_NOT_ALLOCATED',
  exhausted: 'WEFT_IPAM_POOL_EXHAUSTED',
  corrupt: 'WEFT_IPAM_CORRUPT_STATE',
  storeFailed: 'WEFT_IPAM_STORE_FAILED',
} as const;

/** Request options Weft understands (Docker's own plus the network label). */
export const IpamOptions = {
  requestAddressType: 'RequestAddressType',
  gateway: 'com.docker.network.gateway',
  serial: 'com.docker.network.ipam.serial',
  /** Network name, used in overlap errors; Docker sends none, Weft's CLI may. */
  networkName: ['com.docker.network.name', WeftOptions.networkName] as readonly string[],
} as const;

export interface SubRange {
  readonly range: Prefix;
  refs: number;
  name: string | undefined;
  /** Allocatable offsets of the range inside the subnet. */
  readonly lo: bigint;
  readonly hi: bigint;
}

export interface Subnet {
  readonly gen: number;
  readonly space: string;
  readonly prefix: Prefix;
  masterRefs: number;
  name: string | undefined;
  readonly subs: Map<string, SubRange>;
  readonly bitmap: AddressBitmap;
  /** Offsets never handed out: network (and for IPv4 broadcast) address. */
  readonly reserved: readonly bigint[];
  /** First and last allocatable offset. */
  readonly lo: bigint;
  readonly hi: bigint;
  /** Next offset for serial (round-robin) allocation. */
  cursor: bigint;
  /** Write sequence of chunk records (the newest carries the cursor). */
  seq: number;
}

export interface PoolRef {
  readonly subnet: Subnet;
  readonly sub: SubRange | undefined;
}

type Dirty = { readonly kind: 'meta'; readonly s: Subnet } | { readonly kind: 'chunk'; readonly s: Subnet; readonly ci: number } | { readonly kind: 'drop'; readonly gen: number };

export interface IpamStateOptions {
  readonly plugin: string;
  readonly localSpace: string;
  readonly globalSpace: string;
  readonly local: ResolvedPools;
  readonly global: ResolvedPools;
  /** Destinations of the host's routes; a predefined pool overlapping one is skipped. */
  readonly hostRoutes: () => readonly Prefix[];
}

export interface PoolUsage {
  readonly PoolID: string;
  readonly AddressSpace: string;
  readonly Pool: string;
  readonly V6: boolean;
  readonly Network?: string;
  readonly RefCount: number;
  /** Decimal strings: an IPv6 pool holds up to 2^64 addresses. */
  readonly Size: string;
  readonly Reserved: string;
  readonly Used: string;
  readonly Free: string;
  readonly SubPools: readonly {
    readonly PoolID: string;
    readonly SubPool: string;
    readonly Network?: string;
    readonly RefCount: number;
    readonly Size: string;
    readonly Used: string;
    readonly Free: string;
  }[];
}

const CHUNK_SHIFT_N = BigInt(CHUNK_SHIFT);
const genKey = (gen: number) => gen.toString(16).padStart(8, '0');
export const metaKey = (gen: number) => `s/${genKey(gen)}/m`;
export const chunkKey = (gen: number, ci: number) => `s/${genKey(gen)}/c/${ci.toString(16)}`;
const KEY = /^s\/([0-9a-f]{8})\/(m|c\/([0-9a-f]+))$/;

const te = new TextEncoder();
const td = new TextDecoder();

function poolName(opts: Readonly<Record<string, string>>): string | undefined {
  for (const k of IpamOptions.networkName) {
    const v = opts[k];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

export class IpamState {
  readonly opts: IpamStateOptions;
  readonly subnets = new Map<number, Subnet>();
  private readonly ids = new Map<string, PoolRef>();
  private nextGen = 1;
  private dirty: Dirty[] = [];

  constructor(opts: IpamStateOptions) {
    this.opts = opts;
  }

  private get plugin(): string {
    return this.opts.plugin;
  }

  // --- ids ----------------------------------------------------------------------------------

  /** Docker's builtin form: `<space>/<pool>` and `<space>/<pool>/<subpool>`. */
  static poolId(space: string, pool: Prefix, sub?: Prefix): string {
    return sub === undefined ? `${space}/${formatPrefix(pool)}` : `${space}/${formatPrefix(pool)}/${formatPrefix(sub)}`;
  }

  ref(poolId: string): PoolRef {
    const r = this.ids.get(poolId);
    if (r === undefined) {
      raise(errors.notFound(this.plugin, `Pool "${poolId}" is not allocated`, { code: IpamCodes.unknownPool, value: poolId, hint: 'Request the pool first (RequestPool) or check the PoolID.' }));
    }
    return r;
  }

  private reindex(s: Subnet): void {
    const master = IpamState.poolId(s.space, s.prefix);
    if (s.masterRefs > 0) this.ids.set(master, { subnet: s, sub: undefined });
    else this.ids.delete(master);
    for (const sr of s.subs.values()) this.ids.set(IpamState.poolId(s.space, s.prefix, sr.range), { subnet: s, sub: sr });
  }

  // --- subnets ------------------------------------------------------------------------------

  private newSubnet(gen: number, space: string, prefix: Prefix): Subnet {
    const size = prefixSize(prefix);
    const allocSize = size < MAX_BITS ? size : MAX_BITS;
    const reserved: bigint[] = [];
    if (prefix.family === 4 && prefix.bits <= 30) reserved.push(0n, allocSize - 1n);
    // libnetwork reserves the IPv6 subnet-router anycast address too, so gateways start at ::1.
    if (prefix.family === 6 && prefix.bits <= 126) reserved.push(0n);
    const bitmap = new AddressBitmap(allocSize);
    for (const r of reserved) bitmap.setBig(r);
    const lo = reserved.includes(0n) ? 1n : 0n;
    const hi = prefix.family === 4 && reserved.length === 2 ? allocSize - 2n : allocSize - 1n;
    return { gen, space, prefix, masterRefs: 0, name: undefined, subs: new Map(), bitmap, reserved, lo, hi, cursor: lo, seq: 0 };
  }

  private subRange(s: Subnet, range: Prefix): SubRange {
    const a = range.base - s.prefix.base;
    const b = prefixLast(range) - s.prefix.base;
    return { range, refs: 0, name: undefined, lo: a > s.lo ? a : s.lo, hi: b < s.hi ? b : s.hi };
  }

  private spaces(): string[] {
    return [this.opts.localSpace, this.opts.globalSpace];
  }

  requestPool(req: { AddressSpace: string; Pool?: string; SubPool?: string; Options?: Record<string, string>; V6?: boolean }): { PoolID: string; Pool: string; Data: Record<string, string> } {
    const space = req.AddressSpace;
    if (!this.spaces().includes(space)) {
      raise(errors.notFound(this.plugin, `Address space "${space}" is not known; use "${this.opts.localSpace}" or "${this.opts.globalSpace}"`, { code: IpamCodes.unknownSpace, path: 'AddressSpace', value: space }));
    }
    const v6 = req.V6 ?? false;
    const poolText = req.Pool ?? '';
    const subText = req.SubPool ?? '';
    const name = poolName(req.Options ?? {});
    if (poolText === '' && subText !== '') {
      raise(errors.badRequest(this.plugin, `SubPool "${subText}" was given without a Pool; an --ip-range needs a --subnet that contains it`, { code: IpamCodes.subPoolWithoutPool, path: 'SubPool', value: subText }));
    }
    let prefix: Prefix;
    if (poolText === '') {
      const cfg = space === this.opts.globalSpace ? this.opts.global : this.opts.local;
      const candidates = v6 ? cfg.v6 : cfg.v4;
      const taken = [...[...this.subnets.values()].map((s) => s.prefix), ...this.opts.hostRoutes()];
      const p = pickPool(candidates, taken);
      if (p === undefined) {
        const list = candidates.map((c) => `${formatPrefix(c.base)} (/${c.size}s)`).join(', ') || 'none configured';
        raise(errors.unavailable(this.plugin, `No free predefined IPv${v6 ? 6 : 4} pool in address space "${space}": every subnet of ${list} overlaps an existing pool or a host route`, {
          code: IpamCodes.noPredefinedPool,
          value: space,
          hint: 'Give the network an explicit --subnet, or add default address pools.',
        }));
      }
      prefix = p;
    } else {
      const p = parsePrefix(poolText);
      if (p === undefined) raise(errors.badRequest(this.plugin, `Pool "${poolText}" is not a valid CIDR`, { code: IpamCodes.badPool, path: 'Pool', value: poolText }));
      if ((p.family === 6) !== v6) {
        raise(errors.badRequest(this.plugin, `Pool "${poolText}" is IPv${p.family} but the request has V6=${v6}`, { code: IpamCodes.badPool, path: 'Pool', value: poolText }));
      }
      prefix = p;
    }
    let sub: Prefix | undefined;
    if (subText !== '') {
      sub = parsePrefix(subText);
      if (sub === undefined || !prefixContains(prefix, sub)) {
        raise(errors.badRequest(this.plugin, `SubPool "${subText}" does not lie inside Pool "${formatPrefix(prefix)}"; choose an --ip-range within the --subnet`, { code: IpamCodes.subPoolOutside, path: 'SubPool', value: subText }));
      }
    }
    let s = [...this.subnets.values()].find((x) => x.space === space && samePrefix(x.prefix, prefix));
    if (s === undefined) {
      const clash = [...this.subnets.values()].find((x) => x.space === space && prefixOverlaps(x.prefix, prefix));
      if (clash !== undefined) {
        const holder = clash.name ?? [...clash.subs.values()].find((r) => r.name !== undefined)?.name;
        const clashId = IpamState.poolId(clash.space, clash.prefix);
        raise(errors.conflict(this.plugin, `Pool "${formatPrefix(prefix)}" overlaps pool "${formatPrefix(clash.prefix)}"${holder !== undefined ? ` of network "${holder}"` : ''} (PoolID "${clashId}") in address space "${space}"`, {
          code: IpamCodes.poolOverlap,
          path: 'Pool',
          value: formatPrefix(prefix),
          hint: 'Choose a subnet that does not overlap, or remove the network that holds it.',
        }));
      }
      s = this.newSubnet(this.nextGen++, space, prefix);
      this.subnets.set(s.gen, s);
    }
    let id: string;
    if (sub === undefined) {
      s.masterRefs++;
      if (s.name === undefined) s.name = name;
      id = IpamState.poolId(space, prefix);
    } else {
      const key = formatPrefix(sub);
      let sr = s.subs.get(key);
      if (sr === undefined) s.subs.set(key, (sr = this.subRange(s, sub)));
      sr.refs++;
      if (sr.name === undefined) sr.name = name;
      id = IpamState.poolId(space, prefix, sub);
    }
    this.reindex(s);
    this.dirty.push({ kind: 'meta', s });
    return { PoolID: id, Pool: formatPrefix(prefix), Data: {} };
  }

  releasePool(poolId: string): void {
    const { subnet: s, sub } = this.ref(poolId);
    if (sub === undefined) s.masterRefs--;
    else if (--sub.refs === 0) {
      s.subs.delete(formatPrefix(sub.range));
      this.ids.delete(poolId);
    }
    this.reindex(s);
    if (s.masterRefs === 0 && s.subs.size === 0) {
      this.subnets.delete(s.gen);
      this.dirty.push({ kind: 'drop', gen: s.gen });
    } else this.dirty.push({ kind: 'meta', s });
  }

  // --- addresses ----------------------------------------------------------------------------

  private describe(s: Subnet, poolId: string): string {
    return `pool "${formatPrefix(s.prefix)}" (PoolID "${poolId}")`;
  }

  /** Offset of `text` (bare or with /len) in the subnet, after the common checks. */
  private offsetOf(s: Subnet, poolId: string, text: string, path: string): bigint {
    const bare = text.includes('/') ? text.slice(0, text.indexOf('/')) : text;
    const a: Addr | undefined = parseAddr(bare);
    if (a === undefined || a.family !== s.prefix.family || a.value < s.prefix.base || a.value - s.prefix.base >= s.bitmap.size) {
      raise(errors.badRequest(this.plugin, `Address "${bare}" is outside ${this.describe(s, poolId)}`, { code: IpamCodes.outOfPool, path, value: text }));
    }
    const off = a.value - s.prefix.base;
    if (s.reserved.includes(off)) {
      const what = off === 0n ? 'network address' : 'broadcast address';
      raise(errors.badRequest(this.plugin, `Address "${bare}" is the ${what} of ${this.describe(s, poolId)} and is never handed out`, { code: IpamCodes.reservedAddress, path, value: text }));
    }
    return off;
  }

  private format(s: Subnet, off: bigint): string {
    if (s.prefix.family === 4) return `${formatIPv4(Number(s.prefix.base + off))}/${s.prefix.bits}`;
    return `${formatAddr({ family: s.prefix.family, value: s.prefix.base + off })}/${s.prefix.bits}`;
  }

  private touch(s: Subnet, off: bigint): void {
    this.dirty.push({ kind: 'chunk', s, ci: Number(off >> CHUNK_SHIFT_N) });
  }

  requestAddress(req: { PoolID: string; Address?: string; Options?: Record<string, string> }): { Address: string; Data: Record<string, string> } {
    const poolId = req.PoolID;
    const { subnet: s, sub } = this.ref(poolId);
    const opts = req.Options ?? {};
    const wanted = req.Address ?? '';
    if (wanted !== '') {
      const off = this.offsetOf(s, poolId, wanted, 'Address');
      if (!s.bitmap.setBig(off)) {
        raise(errors.conflict(this.plugin, `Address "${wanted}" is already allocated in ${this.describe(s, poolId)}`, { code: IpamCodes.addressInUse, path: 'Address', value: wanted, hint: 'Choose another address or release this one first.' }));
      }
      this.touch(s, off);
      return { Address: this.format(s, off), Data: {} };
    }
    const lo = sub?.lo ?? s.lo;
    const hi = sub?.hi ?? s.hi;
    const gateway = opts[IpamOptions.requestAddressType] === IpamOptions.gateway;
    const serial = !gateway && opts[IpamOptions.serial] === 'true';
    const off = lo <= hi ? s.bitmap.findFreeBig(lo, hi, serial ? s.cursor : lo) : -1n;
    if (off < 0n) {
      const inUse = lo <= hi ? s.bitmap.countRange(lo, hi) : 0n;
      const size = lo <= hi ? hi - lo + 1n : 0n;
      const where = sub !== undefined ? `range "${formatPrefix(sub.range)}" of ${this.describe(s, poolId)}` : this.describe(s, poolId);
      raise(errors.unavailable(this.plugin, `No free address in ${where}: ${size} allocatable addresses, ${inUse} in use`, {
        code: IpamCodes.exhausted,
        value: poolId,
        hint: 'Release addresses or use a larger subnet.',
      }));
    }
    s.bitmap.setBig(off);
    if (serial) s.cursor = off + 1n > hi ? lo : off + 1n;
    this.touch(s, off);
    return { Address: this.format(s, off), Data: {} };
  }

  releaseAddress(req: { PoolID: string; Address: string }): void {
    const { subnet: s } = this.ref(req.PoolID);
    const off = this.offsetOf(s, req.PoolID, req.Address, 'Address');
    if (!s.bitmap.unsetBig(off)) {
      const bare = req.Address.split('/')[0]!;
      raise(errors.notFound(this.plugin, `Address "${bare}" is not allocated in ${this.describe(s, req.PoolID)}; nothing was released`, { code: IpamCodes.notAllocated, path: 'Address', value: req.Address }));
    }
    this.touch(s, off);
  }

  // --- utilisation --------------------------------------------------------------------------

  usage(poolId?: string): PoolUsage[] {
    const list = poolId === undefined ? [...this.subnets.values()] : [this.ref(poolId).subnet];
    return list.map((s) => {
      const size = s.bitmap.size;
      const reserved = BigInt(s.reserved.length);
      const used = BigInt(s.bitmap.count) - reserved;
      const u: { -readonly [K in keyof PoolUsage]: PoolUsage[K] } = {
        PoolID: IpamState.poolId(s.space, s.prefix),
        AddressSpace: s.space,
        Pool: formatPrefix(s.prefix),
        V6: s.prefix.family === 6,
        RefCount: s.masterRefs,
        Size: String(size),
        Reserved: String(reserved),
        Used: String(used),
        Free: String(size - reserved - used),
        SubPools: [...s.subs.values()].map((r) => {
          const rsize = r.lo <= r.hi ? r.hi - r.lo + 1n : 0n;
          const rused = r.lo <= r.hi ? s.bitmap.countRange(r.lo, r.hi) : 0n;
          return {
            PoolID: IpamState.poolId(s.space, s.prefix, r.range),
            SubPool: formatPrefix(r.range),
            ...(r.name !== undefined ? { Network: r.name } : {}),
            RefCount: r.refs,
            Size: String(rsize),
            Used: String(rused),
            Free: String(rsize - rused),
          };
        }),
      };
      if (s.name !== undefined) u.Network = s.name;
      return u;
    });
  }

  // --- persistence --------------------------------------------------------------------------

  /** Dirty records since the last flush (for tests: a pure state has many). */
  get pending(): number {
    return this.dirty.length;
  }

  /** Drops the dirty list without writing (for callers that persist elsewhere). */
  discardPending(): void {
    this.dirty = [];
  }

  encodeMeta(s: Subnet): Uint8Array {
    const meta = {
      v: 1,
      space: s.space,
      pool: formatPrefix(s.prefix),
      refs: s.masterRefs,
      ...(s.name !== undefined ? { name: s.name } : {}),
      subs: [...s.subs.values()].map((r) => (r.name !== undefined ? [formatPrefix(r.range), r.refs, r.name] : [formatPrefix(r.range), r.refs])),
    };
    return encodeRecord(metaKey(s.gen), RecordKind.meta, te.encode(JSON.stringify(meta)));
  }

  encodeChunk(s: Subnet, ci: number): Uint8Array {
    const out: number[] = [];
    writeVarint(out, s.seq);
    writeVarintBig(out, s.cursor);
    const ch = s.bitmap.chunk(ci);
    const words = ch?.words ?? new Uint32Array((s.bitmap.chunkCap(ci) + 31) >>> 5);
    encodeWords(out, words);
    return encodeRecord(chunkKey(s.gen, ci), RecordKind.chunk, Uint8Array.from(out));
  }

  /**
   * Writes what changed, in order: the puts are all issued before this first waits (the store
   * applies writes in call order), so a caller may start the next change as soon as this returned
   * a promise. On failure the caller must drop this state and reload.
   */
  async flush(store: Store): Promise<void> {
    const work = this.dirty;
    this.dirty = [];
    const done = new Set<string>();
    for (let i = work.length - 1; i >= 0; i--) {
      // Later entries supersede earlier ones for the same record; write each record once.
      const d = work[i]!;
      const key = d.kind === 'chunk' ? chunkKey(d.s.gen, d.ci) : d.kind === 'meta' ? metaKey(d.s.gen) : `drop ${d.gen}`;
      if (done.has(key)) (work as (Dirty | undefined)[])[i] = undefined;
      done.add(key);
    }
    let issued: Promise<void>[] = [];
    for (const d of work as (Dirty | undefined)[]) {
      if (d === undefined) continue;
      if (d.kind === 'meta') {
        if (this.subnets.get(d.s.gen) === d.s) issued.push(store.put(metaKey(d.s.gen), this.encodeMeta(d.s)));
      } else if (d.kind === 'chunk') {
        if (this.subnets.get(d.s.gen) !== d.s) continue;
        d.s.seq++;
        issued.push(store.put(chunkKey(d.s.gen, d.ci), this.encodeChunk(d.s, d.ci)));
      } else {
        await Promise.all(issued);
        issued = [];
        // The meta's deletion is the commit point. Chunks left behind (a crash, a failed delete)
        // are orphans: their gen is never reused, and the next load collects them.
        await store.delete(metaKey(d.gen));
        try {
          for (const k of await store.keys(`s/${genKey(d.gen)}/`)) await store.delete(k);
        } catch {
          // already committed; see above
        }
      }
    }
    await Promise.all(issued);
  }

  /** Loads the state held by `store`; a damaged record is an Internal error naming its key. */
  static async load(store: Store, opts: IpamStateOptions): Promise<IpamState> {
    const st = new IpamState(opts);
    const keys = await store.keys('s/');
    const metas = new Map<number, string>();
    const chunks = new Map<number, { key: string; ci: number }[]>();
    let maxGen = 0;
    for (const key of keys) {
      const m = KEY.exec(key);
      if (m === null) continue;
      const gen = parseInt(m[1]!, 16);
      if (gen > maxGen) maxGen = gen;
      if (m[2] === 'm') metas.set(gen, key);
      else {
        let l = chunks.get(gen);
        if (l === undefined) chunks.set(gen, (l = []));
        l.push({ key, ci: parseInt(m[3]!, 16) });
      }
    }
    st.nextGen = maxGen + 1;
    const corrupt = (key: string, reason: string): WeftError =>
      errors.internal(opts.plugin, `Stored IPAM record "${key}" is corrupt: ${reason}`, {
        code: IpamCodes.corrupt,
        value: key,
        hint: 'The pool it belongs to cannot be trusted; restore the record from a backup, or delete the key to drop that pool (its addresses may then be handed out again).',
      });
    const read = async (key: string, kind: RecordKind): Promise<Uint8Array> => {
      const bytes = await store.get(key);
      if (bytes === undefined) raise(corrupt(key, 'it vanished while loading'));
      const r = decodeRecord(key, kind, bytes);
      if (!r.ok) raise(corrupt(key, r.reason));
      return r.payload;
    };
    for (const [gen, key] of metas) {
      const payload = await read(key, RecordKind.meta);
      let meta: { space: string; pool: string; refs: number; name?: string; subs: [string, number, string?][] };
      try {
        meta = JSON.parse(td.decode(payload));
      } catch (e) {
        raise(corrupt(key, `its payload is not JSON (${String(e)})`));
      }
      const prefix = typeof meta.pool === 'string' ? parsePrefix(meta.pool) : undefined;
      if (prefix === undefined || typeof meta.space !== 'string' || typeof meta.refs !== 'number' || !Array.isArray(meta.subs)) raise(corrupt(key, 'its fields are malformed'));
      const s = st.newSubnet(gen, meta.space, prefix);
      s.masterRefs = meta.refs;
      s.name = meta.name;
      for (const [range, refs, name] of meta.subs) {
        const rp = parsePrefix(range);
        if (rp === undefined) raise(corrupt(key, `sub-pool ${JSON.stringify(range)} is not a CIDR`));
        const sr = st.subRange(s, rp);
        sr.refs = refs;
        sr.name = name;
        s.subs.set(formatPrefix(rp), sr);
      }
      let bestSeq = -1;
      for (const { key: ck, ci } of chunks.get(gen) ?? []) {
        const p = await read(ck, RecordKind.chunk);
        const r = new Reader(p);
        try {
          if (ci >= s.bitmap.chunkCount) throw new RangeError(`chunk index ${ci} is beyond the pool`);
          const seq = r.varint();
          const cursor = r.varintBig();
          const words = decodeWords(r, (s.bitmap.chunkCap(ci) + 31) >>> 5);
          if (!r.done) throw new RangeError('trailing bytes');
          s.bitmap.loadChunk(ci, words);
          if (seq > bestSeq) {
            bestSeq = seq;
            s.cursor = cursor;
          }
        } catch (e) {
          raise(corrupt(ck, e instanceof Error ? e.message : String(e)));
        }
      }
      s.seq = Math.max(bestSeq, 0);
      for (const r of s.reserved) s.bitmap.setBig(r);
      st.subnets.set(gen, s);
      st.reindex(s);
    }
    // Orphans: chunks of pools whose ReleasePool committed but did not finish.
    for (const [gen, list] of chunks) if (!metas.has(gen)) for (const { key } of list) await store.delete(key);
    return st;
  }
}
