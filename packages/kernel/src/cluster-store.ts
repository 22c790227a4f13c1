/**
 * `memoryClusterStore`: the reference `ClusterStore` (contracts/cluster-store.ts), in memory —
 * for tests, for a single process that may lose its state, and as the executable statement of
 * the contract's semantics that the durable backends (embedded, etcd) must match
 * (`testClusterStore` in @weft/testing runs against all of them).
 *
 * History is a log of committed revisions (each with the previous value of every key it touched),
 * kept from the compaction revision on: reads at an old revision undo newer entries, watches
 * replay it and then follow live commits.
 */
import { errors, throwable, type WeftError } from './errors.ts';
import {
  ClusterStoreCodes,
  type ClusterStore,
  type Compare,
  type KeyValue,
  type RangeResult,
  type TxnOp,
  type TxnOpResult,
  type TxnRequest,
  type TxnResponse,
  type WatchEvent,
  type WatchOptions,
  type Watcher,
} from './contracts/cluster-store.ts';
import type { Store } from './contracts/store.ts';
import { createKeyedSerial } from './serial.ts';

const PLUGIN = 'cluster-store';

interface LogEntry {
  readonly revision: number;
  readonly events: WatchEvent[];
  /** Key → value before this revision (undefined: did not exist). */
  readonly prev: Map<string, KeyValue | undefined>;
}

interface Lease {
  readonly ttl: number;
  expiresAt: number;
  readonly keys: Set<string>;
}

interface WatchState {
  readonly prefix: string;
  readonly opts: WatchOptions;
  closed: boolean;
  /** Revisions already queued for delivery (so replay and live commits never overlap). */
  next: number;
}

export interface MemoryClusterStoreOptions {
  /** Clock for lease expiry (ms). */
  readonly now?: () => number;
  /** How often expired leases are collected (ms, default 100). */
  readonly leaseCheckMs?: number;
  /** Shown in messages and `status().endpoint`. */
  readonly name?: string;
}

/**
 * Keys in etcd's order: by UTF-8 bytes, i.e. by code point. JavaScript's `<` compares UTF-16 code
 * units, which puts U+10000 and above (surrogate pairs, D800–DFFF) before U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

const copy = (kv: KeyValue): KeyValue => ({ ...kv, value: kv.value.slice() });
const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function compareHolds(c: Compare, kv: KeyValue | undefined): boolean {
  if (c.target === 'value') {
    if (kv === undefined) return false;
    const eq = bytesEqual(kv.value, c.value);
    return c.result === '=' ? eq : !eq;
  }
  const have = kv === undefined ? 0 : kv[c.target];
  switch (c.result) {
    case '=':
      return have === c.value;
    case '!=':
      return have !== c.value;
    case '<':
      return have < c.value;
    case '>':
      return have > c.value;
  }
}

/**
 * etcd's rule for a transaction (contract: `TxnRequest`), for backends to enforce as etcd does:
 * in each branch, whichever runs, no key put twice and none put where a `delete`/`deletePrefix` of
 * the branch covers it. Throws a `BadRequest` WeftError (an Error) attributed to `plugin`.
 */
export function checkTxnWrites(req: TxnRequest, plugin: string): void {
  for (const [branch, ops] of [['success', req.success], ['failure', req.failure ?? []]] as const) {
    const puts = new Set<string>();
    const deletes: { key: string; prefix: boolean }[] = [];
    for (const op of ops) {
      if (op.op === 'delete') deletes.push({ key: op.key, prefix: false });
      else if (op.op === 'deletePrefix') deletes.push({ key: op.prefix, prefix: true });
    }
    for (const op of ops) {
      if (op.op !== 'put') continue;
      const covered = deletes.find((d) => (d.prefix ? op.key.startsWith(d.key) : op.key === d.key));
      if (puts.has(op.key) || covered !== undefined) {
        const how = puts.has(op.key) ? 'puts' : `puts and ${covered!.prefix ? `deletes (prefix ${JSON.stringify(covered!.key)})` : 'deletes'}`;
        throw throwable(
          errors.badRequest(plugin, `The transaction's ${branch} branch ${how} key ${JSON.stringify(op.key)}; a transaction may write a key once (etcd's rule)`, {
            value: op.key,
            hint: 'Split the transaction, or drop the put that the delete covers.',
          }),
        );
      }
      puts.add(op.key);
    }
  }
}

export function memoryClusterStore(opts: MemoryClusterStoreOptions = {}): ClusterStore {
  const now = opts.now ?? Date.now;
  const name = opts.name ?? 'memory';
  const data = new Map<string, KeyValue>();
  const log: LogEntry[] = [];
  const leases = new Map<number, Lease>();
  const watches = new Set<WatchState>();
  let revision = 1;
  let compactRevision = 0;
  let nextLease = 1;
  let closed = false;

  const unavailable = (): WeftError =>
    errors.unavailable(PLUGIN, `The cluster store (${name}) is closed`, { code: ClusterStoreCodes.unavailable, value: name });
  const check = () => {
    if (closed) throw throwable(unavailable());
  };

  const compacted = (rev: number): WeftError =>
    errors.conflict(PLUGIN, `Revision ${rev} of the cluster store (${name}) has been compacted (history starts at ${compactRevision})`, {
      code: ClusterStoreCodes.compacted,
      value: compactRevision,
      hint: 'Read the current state with a range, then watch from its revision + 1.',
    });

  function sortedUnder(map: Map<string, KeyValue>, prefix: string): KeyValue[] {
    const out: KeyValue[] = [];
    for (const [k, v] of map) if (k.startsWith(prefix)) out.push(v);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** The state as of `rev` (undoing newer log entries). */
  function stateAt(rev: number): Map<string, KeyValue> {
    if (rev >= revision) return data;
    if (rev < compactRevision) throw throwable(compacted(rev));
    const m = new Map(data);
    for (let i = log.length - 1; i >= 0 && log[i]!.revision > rev; i--) {
      for (const [k, v] of log[i]!.prev) (v === undefined ? m.delete(k) : m.set(k, v));
    }
    return m;
  }

  function deliver(w: WatchState, entry: LogEntry): void {
    if (w.closed || entry.revision < w.next) return;
    w.next = entry.revision + 1;
    const evs = entry.events.filter((e) => e.kv.key.startsWith(w.prefix)).map((e) => ({ type: e.type, kv: copy(e.kv) }) as WatchEvent);
    if (evs.length === 0) return;
    queueMicrotask(() => {
      if (!w.closed) w.opts.onEvents(evs, entry.revision);
    });
  }

  /** Applies write ops at a new revision (reads are answered from the state before the writes of later ops: etcd answers each op in order). */
  function apply(ops: readonly TxnOp[]): { results: TxnOpResult[]; wrote: boolean } {
    const rev = revision + 1;
    const events: WatchEvent[] = [];
    const prev = new Map<string, KeyValue | undefined>();
    const results: TxnOpResult[] = [];
    const touch = (k: string) => {
      if (!prev.has(k)) prev.set(k, data.get(k));
    };
    const del = (k: string): boolean => {
      const old = data.get(k);
      if (old === undefined) return false;
      touch(k);
      data.delete(k);
      if (old.lease !== 0) leases.get(old.lease)?.keys.delete(k);
      events.push({ type: 'delete', kv: { key: k, value: new Uint8Array(0), createRevision: 0, modRevision: rev, version: 0, lease: 0 } });
      return true;
    };
    for (const op of ops) {
      switch (op.op) {
        case 'get': {
          const kv = data.get(op.key);
          results.push({ kvs: kv === undefined ? [] : [copy(kv)] });
          break;
        }
        case 'range':
          results.push({ kvs: sortedUnder(data, op.prefix).map(copy) });
          break;
        case 'put': {
          const lease = op.lease ?? 0;
          if (lease !== 0 && !leases.has(lease)) {
            throw throwable(errors.notFound(PLUGIN, `Lease ${lease} does not exist (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, value: lease }));
          }
          const old = data.get(op.key);
          touch(op.key);
          if (old !== undefined && old.lease !== 0 && old.lease !== lease) leases.get(old.lease)?.keys.delete(op.key);
          const kv: KeyValue = { key: op.key, value: op.value.slice(), createRevision: old?.createRevision ?? rev, modRevision: rev, version: (old?.version ?? 0) + 1, lease };
          data.set(op.key, kv);
          if (lease !== 0) leases.get(lease)!.keys.add(op.key);
          events.push({ type: 'put', kv });
          results.push({});
          break;
        }
        case 'delete':
          results.push({ deleted: del(op.key) ? 1 : 0 });
          break;
        case 'deletePrefix': {
          let n = 0;
          for (const kv of sortedUnder(data, op.prefix)) if (del(kv.key)) n++;
          results.push({ deleted: n });
          break;
        }
      }
    }
    if (events.length === 0) return { results, wrote: false };
    revision = rev;
    const entry: LogEntry = { revision: rev, events, prev };
    log.push(entry);
    for (const w of watches) deliver(w, entry);
    return { results, wrote: true };
  }

  /** Validates before any op runs, so a failing put leaves nothing half-applied. */
  /** etcd refuses an empty key ("key is not provided"), whichever branch it is in. */
  function checkKeys(ops: readonly TxnOp[] | undefined): void {
    for (const op of ops ?? []) {
      if ((op.op === 'put' || op.op === 'delete' || op.op === 'get') && (typeof op.key !== 'string' || op.key === '')) {
        throw throwable(errors.badRequest(PLUGIN, `A key must be a non-empty string (got ${JSON.stringify(op.key)})`, { value: op.key }));
      }
    }
  }

  function validate(ops: readonly TxnOp[]): void {
    checkKeys(ops);
    for (const op of ops) {
      if (op.op === 'put' && (op.lease ?? 0) !== 0 && !leases.has(op.lease!)) {
        throw throwable(errors.notFound(PLUGIN, `Lease ${op.lease} does not exist (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, value: op.lease }));
      }
    }
  }

  function expireLeases(): void {
    const t = now();
    for (const [id, l] of leases) {
      if (l.expiresAt <= t) {
        leases.delete(id);
        if (l.keys.size > 0) apply([...l.keys].sort(compareKeys).map((key) => ({ op: 'delete', key }) as TxnOp));
      }
    }
  }
  const timer = setInterval(expireLeases, opts.leaseCheckMs ?? 100);
  (timer as { unref?: () => void }).unref?.();

  const store: ClusterStore = {
    async get(key) {
      check();
      const kv = data.get(key);
      return kv === undefined ? undefined : copy(kv);
    },
    async range(prefix, o = {}): Promise<RangeResult> {
      check();
      const at = o.revision !== undefined && o.revision > 0 ? o.revision : revision;
      if (at > revision) throw throwable(errors.badRequest(PLUGIN, `Revision ${at} is in the future (the cluster store is at ${revision})`, { value: at }));
      const all = sortedUnder(stateAt(at), prefix);
      const limit = o.limit !== undefined && o.limit > 0 ? o.limit : all.length;
      return { kvs: all.slice(0, limit).map(copy), revision, more: all.length > limit };
    },
    async put(key, value, o = {}) {
      check();
      const op: TxnOp = o.lease !== undefined ? { op: 'put', key, value, lease: o.lease } : { op: 'put', key, value };
      validate([op]);
      apply([op]);
      return revision;
    },
    async delete(key) {
      check();
      checkKeys([{ op: 'delete', key }]);
      return apply([{ op: 'delete', key }]).results[0]!.deleted ?? 0;
    },
    async txn(req: TxnRequest): Promise<TxnResponse> {
      check();
      checkKeys(req.success);
      checkKeys(req.failure);
      checkTxnWrites(req, PLUGIN);
      const ok = req.compare.every((c) => compareHolds(c, data.get(c.key)));
      const ops = ok ? req.success : (req.failure ?? []);
      validate(ops);
      const { results } = apply(ops);
      return { succeeded: ok, revision, results };
    },
    watch(prefix, o): Watcher {
      const w: WatchState = { prefix, opts: o, closed: false, next: o.fromRevision !== undefined && o.fromRevision > 0 ? o.fromRevision : revision + 1 };
      if (closed) {
        queueMicrotask(() => o.onError?.(unavailable()));
        w.closed = true;
        return { close() {} };
      }
      if (w.next < compactRevision) {
        const err = compacted(w.next);
        w.closed = true;
        queueMicrotask(() => o.onError?.(err));
        return { close() {} };
      }
      for (const entry of log) if (entry.revision >= w.next) deliver(w, entry);
      watches.add(w);
      return {
        close() {
          w.closed = true;
          watches.delete(w);
        },
      };
    },
    async grantLease(ttlSeconds) {
      check();
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw throwable(errors.badRequest(PLUGIN, `A lease TTL must be a whole number of seconds ≥ 1 (got ${ttlSeconds})`, { value: ttlSeconds }));
      const id = nextLease++;
      leases.set(id, { ttl: ttlSeconds, expiresAt: now() + ttlSeconds * 1000, keys: new Set() });
      return id;
    },
    async keepAlive(lease) {
      check();
      expireLeases();
      const l = leases.get(lease);
      if (l === undefined) throw throwable(errors.notFound(PLUGIN, `Lease ${lease} does not exist (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, value: lease }));
      l.expiresAt = now() + l.ttl * 1000;
      return l.ttl;
    },
    async revokeLease(lease) {
      check();
      const l = leases.get(lease);
      if (l === undefined) return;
      leases.delete(lease);
      if (l.keys.size > 0) apply([...l.keys].sort(compareKeys).map((key) => ({ op: 'delete', key }) as TxnOp));
    },
    async compact(rev) {
      check();
      if (rev > revision) throw throwable(errors.badRequest(PLUGIN, `Cannot compact at revision ${rev}: the cluster store is at ${revision}`, { value: rev }));
      if (rev <= compactRevision) return;
      compactRevision = rev;
      while (log.length > 0 && log[0]!.revision < rev) log.shift();
    },
    async status() {
      check();
      return { backend: 'memory', endpoint: name, revision, compactRevision };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const w of watches) w.closed = true;
      watches.clear();
    },
  };
  return store;
}

/**
 * A kernel `Store` over the keys of a `ClusterStore` under `prefix` (e.g. `weft/plugins/services/`),
 * for plugins that keep manager-side records and want them on the swarm's cluster store, where
 * every manager sees them. Single-key operations only: read-modify-write races between managers
 * are the caller's to avoid (e.g. only the leader writes).
 */
export function clusterKvStore(store: ClusterStore, prefix: string, order: <T>(key: string, fn: () => Promise<T>) => Promise<T> = createKeyedSerial()): Store {
  // Writes of one key are sent one after the other (the Store contract: they apply in call order).
  return {
    async get(key) {
      return (await store.get(prefix + key))?.value;
    },
    async put(key, value) {
      const v = value.slice();
      await order(prefix + key, () => store.put(prefix + key, v));
    },
    async delete(key) {
      return order(prefix + key, async () => (await store.delete(prefix + key)) > 0);
    },
    async keys(p = '') {
      return (await store.range(prefix + p)).kvs.map((kv) => kv.key.slice(prefix.length));
    },
    scope(p) {
      return clusterKvStore(store, `${prefix}${p}/`, order);
    },
  };
}
