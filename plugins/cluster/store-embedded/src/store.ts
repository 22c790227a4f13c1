/**
 * `openEmbeddedStore`: the kernel's `ClusterStore` on LMDB (lmdb-js), in one directory.
 *
 * Layout (format 1, see codec.ts): four LMDB databases in one environment —
 * `kv` (key → record: revisions, version, lease, value), `log` (revision → the changes it made,
 * with each key's previous record), `leases` (ID → TTL and expiry), `meta` (format, revision,
 * compactRevision, nextLease, owner). Every write — a transaction, a lease's end — runs as one
 * LMDB child transaction that updates kv, appends its log entry and sets `meta.revision`, so a
 * revision is on disk whole or not at all. lmdb-js batches concurrent writes into one LMDB commit
 * (group commit) and this store answers a write, and shows it to watches, only once it is flushed.
 *
 * Watches and leases live in the process that owns the database (one at a time: `owner.ts`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate } from 'node:timers';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import {
  checkTxnWrites,
  ClusterStoreCodes,
  compareKeys,
  errors,
  isWeftError,
  throwable,
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
  type WeftError,
} from '@weft/kernel';
import {
  FORMAT,
  compareBytes,
  decodeEntry,
  decodeRecord,
  encodeEntry,
  encodeRecord,
  eventsOf,
  keyBytes,
  prefixEnd,
  recordFields,
  recordValueEquals,
  revKey,
  revOf,
  type Change,
} from './codec.ts';
import { currentOwner, ownerAlive, sameOwner, type Owner } from './owner.ts';

const PLUGIN = 'store-embedded';

export interface EmbeddedStoreOptions {
  /** The database's directory (created, mode 0700, if missing). */
  readonly path: string;
  /**
   * History kept for watches and reads at old revisions: at least this many revisions (default
   * 10,000). Older ones are compacted automatically, in steps of a tenth. 0: only `compact()`.
   */
  readonly historyRevisions?: number;
  /** Clock for lease expiry, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /** How often expired leases are collected (ms, default 200). */
  readonly leaseCheckMs?: number;
  /**
   * Before opening an existing database, read all of it in a child process (default true): LMDB
   * crashes the process on some damaged files instead of reporting them, and this turns that into
   * a clear error. Skipped where no child process can be started.
   */
  readonly verify?: boolean;
  /**
   * Answer a write once it is flushed to disk (true, the default: it survives a crash of the
   * machine) or once it is committed (false: it survives a crash of the process; for tests).
   */
  readonly durable?: boolean;
}

interface Lease {
  readonly ttl: number;
  expiresAt: number;
  readonly keys: Set<string>;
  /** Its end (expiry or revoke) is queued: it no longer exists for keepAlive or put. */
  ending: boolean;
}

interface LeaseRecord {
  readonly ttl: number;
  readonly expiresAt: number;
}

interface WatchState {
  readonly prefix: string;
  readonly opts: WatchOptions;
  closed: boolean;
  /** The next revision to deliver. */
  next: number;
  /** Following commits as they are published (else replaying history from the log). */
  live: boolean;
}

interface Entry {
  readonly revision: number;
  readonly changes: readonly Change[];
}

const MAX_TTL = 2 ** 31 - 1;
const REPLAY_CHUNK = 256;
const COMPACT_CHUNK = 5000;

/** Directories this process has open (a second open in-process is refused like one from another process). */
const openHere = new Set<string>();

class StoreFailure extends Error {}

export async function openEmbeddedStore(o: EmbeddedStoreOptions): Promise<ClusterStore> {
  if (typeof o.path !== 'string' || o.path === '') {
    throw throwable(errors.badRequest(PLUGIN, 'The embedded cluster store needs a directory (got none)', { code: ClusterStoreCodes.badConfig, value: o.path }));
  }
  const dir = path.resolve(o.path);
  const now = o.now ?? Date.now;
  const durable = o.durable ?? true;
  const history = o.historyRevisions ?? 10_000;
  if (!Number.isInteger(history) || history < 0) {
    throw throwable(errors.badRequest(PLUGIN, `historyRevisions must be a whole number ≥ 0 (got ${history})`, { code: ClusterStoreCodes.badConfig, value: history }));
  }
  const name = `the embedded cluster store at ${dir}`;

  const badState = (what: string, hint = 'Restore the directory from a backup, or move it aside to start an empty cluster store; it was not changed.'): Error =>
    throwable(errors.internal(PLUGIN, `Cannot open ${name}: ${what}`, { code: ClusterStoreCodes.unavailable, value: dir, hint }));
  const inUse = (by: string): Error =>
    throwable(
      errors.unavailable(PLUGIN, `Cannot open ${name}: it is in use by ${by}`, {
        code: ClusterStoreCodes.unavailable,
        value: dir,
        hint: 'One process owns an embedded cluster store: stop the other agent, or give this one its own --state-dir. Several managers share a cluster store through --cluster-store etcd://…',
      }),
    );

  if (openHere.has(dir)) throw inUse(`this process (${process.pid}), which already has it open`);
  const existed = await prepareDirectory(dir, badState);
  if (existed && o.verify !== false) await verifyInChild(path.join(dir, 'data.mdb'), badState);

  let env: RootDatabase;
  try {
    env = openLmdb({ path: path.join(dir, 'data.mdb'), maxDbs: 8, compression: false, encoding: 'binary' });
  } catch (e) {
    throw badState(`it is not a readable LMDB database (${e instanceof Error ? e.message : String(e)})`);
  }
  let kv: Database<Uint8Array, Uint8Array>;
  let log: Database<Uint8Array, Uint8Array>;
  let meta: Database<unknown, string>;
  let leaseDb: Database<LeaseRecord, number>;
  const me = currentOwner();
  try {
    // Opening a named database creates it: check first that this file is ours.
    const names = new Set([...env.getKeys({})].map(String));
    if (!names.has('meta')) throw badState('it holds no Weft format marker (not a Weft cluster store, or damaged)');
    kv = env.openDB<Uint8Array, Uint8Array>({ name: 'kv', keyEncoding: 'binary', encoding: 'binary' });
    log = env.openDB<Uint8Array, Uint8Array>({ name: 'log', keyEncoding: 'binary', encoding: 'binary' });
    meta = env.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    leaseDb = env.openDB<LeaseRecord, number>({ name: 'leases', encoding: 'msgpack' });
    const format = meta.get('format');
    if (format === undefined) throw badState('it holds no Weft format marker (not a Weft cluster store, or damaged)');
    if (typeof format !== 'number' || format > FORMAT) {
      throw badState(`it was written in format ${JSON.stringify(format)} by a newer Weft; this one reads format ${FORMAT}`, 'Run the newer Weft, or restore a backup made by this version; the store was not changed.');
    }
    if (format !== FORMAT) throw badState(`it has an unknown format ${JSON.stringify(format)}`);
    // Claim it: check and write the owner in one LMDB write transaction (LMDB's writer lock
    // serialises two processes opening at once).
    const holder = env.transactionSync(() => {
      const cur = meta.get('owner') as Owner | undefined;
      if (cur !== undefined && !sameOwner(cur, me) && ownerAlive(cur)) return cur;
      meta.putSync('owner', me);
      return undefined;
    });
    if (holder !== undefined) throw inUse(`process ${holder.pid}${holder.host !== me.host ? ` on ${holder.host}` : ''}`);
  } catch (e) {
    await env.close().catch(() => {});
    throw isWeftError(e) ? e : badState(e instanceof Error ? e.message : String(e));
  }
  openHere.add(dir);

  // ---- load what lives in memory: counters, the lease index; check the invariants
  let revision: number;
  let compactRevision: number;
  let nextLease: number;
  const leases = new Map<number, Lease>();
  let stragglers = false;
  try {
    revision = num(meta.get('revision'), 'meta.revision');
    compactRevision = num(meta.get('compactRevision'), 'meta.compactRevision');
    nextLease = num(meta.get('nextLease'), 'meta.nextLease');
    const t = now();
    const restored: [number, LeaseRecord][] = [];
    for (const { key, value } of leaseDb.getRange({})) {
      const l = value as LeaseRecord;
      if (typeof key !== 'number' || typeof l?.ttl !== 'number' || typeof l.expiresAt !== 'number') throw new Error(`lease record ${JSON.stringify(key)} is malformed`);
      // etcd's rule on restart: a lease still alive gets its full TTL again.
      leases.set(key, { ttl: l.ttl, expiresAt: l.expiresAt <= t ? l.expiresAt : t + l.ttl * 1000, keys: new Set(), ending: false });
      if (l.expiresAt > t) restored.push([key, { ttl: l.ttl, expiresAt: t + l.ttl * 1000 }]);
    }
    let maxMod = 0;
    for (const { key, value } of kv.getRange({})) {
      const f = recordFields(value);
      const k = new TextDecoder('utf-8', { fatal: true }).decode(key);
      if (f.modRevision > maxMod) maxMod = f.modRevision;
      if (f.lease !== 0) {
        const l = leases.get(f.lease);
        if (l === undefined) throw new Error(`key ${JSON.stringify(k)} is bound to lease ${f.lease}, which does not exist`);
        l.keys.add(k);
      }
    }
    if (maxMod > revision) throw new Error(`key revisions (up to ${maxMod}) are ahead of the store's revision ${revision}`);
    let last = 0;
    for (const { key } of log.getRange({ reverse: true, limit: 1 })) last = revOf(key);
    if (revision > 1 && last !== revision) throw new Error(`the history ends at revision ${last}, the store is at ${revision}`);
    for (const { key } of log.getRange({ limit: 1 })) stragglers = revOf(key) < compactRevision;
    if (restored.length > 0) {
      env.transactionSync(() => {
        for (const [id, r] of restored) leaseDb.putSync(id, r);
      });
    }
  } catch (e) {
    openHere.delete(dir);
    releaseOwner();
    await env.close().catch(() => {});
    throw isWeftError(e) ? e : badState(`its contents are inconsistent: ${e instanceof Error ? e.message : String(e)}`);
  }

  function num(v: unknown, what: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${what} is ${JSON.stringify(v)}, not a revision`);
    return v;
  }

  function releaseOwner(): void {
    try {
      env.transactionSync(() => {
        const cur = meta.get('owner') as Owner | undefined;
        if (cur !== undefined && sameOwner(cur, me)) meta.removeSync('owner');
      });
    } catch {
      // The next opener finds this process gone and takes over.
    }
  }

  // ---- state of this instance
  /** The revision of the last write queued (what the next write builds on). */
  let writeRevision = revision;
  /** Every revision up to this one is flushed and published to watches. */
  let delivered = revision;
  const pending = new Map<number, Entry>();
  const watches = new Set<WatchState>();
  const inflight = new Set<Promise<unknown>>();
  let closed = false;
  let failure: WeftError | undefined;
  let compacting = false;

  const unavailable = (): WeftError =>
    failure ?? errors.unavailable(PLUGIN, `The cluster store (${name}) is closed`, { code: ClusterStoreCodes.unavailable, value: dir });
  const check = () => {
    if (closed || failure !== undefined) throw throwable(unavailable());
  };
  const compacted = (rev: number): WeftError =>
    errors.conflict(PLUGIN, `Revision ${rev} of ${name} has been compacted (history starts at ${compactRevision})`, {
      code: ClusterStoreCodes.compacted,
      value: compactRevision,
      hint: 'Read the current state with a range, then watch from its revision + 1.',
    });
  const leaseNotFound = (id: unknown): Error =>
    throwable(errors.notFound(PLUGIN, `Lease ${id} does not exist (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, value: id }));
  const bad = (msg: string, value: unknown): Error => throwable(errors.badRequest(PLUGIN, msg, { value }));

  function fail(cause: unknown): WeftError {
    if (failure !== undefined) return failure;
    const why = cause instanceof Error ? cause.message : String(cause);
    failure = errors.unavailable(PLUGIN, `The cluster store (${name}) failed and stopped serving: ${why}`, {
      code: ClusterStoreCodes.unavailable,
      value: dir,
      hint: 'Every write it answered is on disk; restart the agent to reopen it.',
    });
    clearInterval(timer);
    for (const w of watches) endWatch(w, failure);
    return failure;
  }

  // ---- input checks (before anything is written)
  const maxKey = (env as { maxKeySize?: number }).maxKeySize ?? 511;
  function checkKey(key: unknown, what = 'key'): Uint8Array {
    if (typeof key !== 'string' || key === '') throw bad(`A ${what} must be a non-empty string (got ${JSON.stringify(key)})`, key);
    const b = keyBytes(key);
    if (b.length > maxKey) throw bad(`A ${what} may be at most ${maxKey} bytes of UTF-8 (got ${b.length}: ${JSON.stringify(key.slice(0, 40))}…)`, key.slice(0, 40));
    return b;
  }
  function checkPrefix(prefix: unknown): string {
    if (typeof prefix !== 'string') throw bad(`A prefix must be a string (got ${JSON.stringify(prefix)})`, prefix);
    return prefix;
  }
  function checkLease(lease: unknown): number {
    if (lease === undefined) return 0;
    if (typeof lease !== 'number' || !Number.isSafeInteger(lease) || lease < 0) throw bad(`A lease must be a lease ID (a whole number > 0; 0 for none), got ${JSON.stringify(lease)}`, lease);
    return lease;
  }
  function checkOps(ops: readonly TxnOp[] | undefined, what: string): void {
    if (ops === undefined) return;
    if (!Array.isArray(ops)) throw bad(`${what} must be a list of operations`, ops);
    for (const op of ops) {
      switch (op?.op) {
        case 'put':
          checkKey(op.key);
          if (!(op.value instanceof Uint8Array)) throw bad(`The value of a put to ${JSON.stringify(op.key)} must be bytes (a Uint8Array)`, typeof op.value);
          checkLease(op.lease);
          break;
        case 'get':
        case 'delete':
          checkKey(op.key);
          break;
        case 'range':
        case 'deletePrefix':
          checkPrefix(op.prefix);
          break;
        default:
          throw bad(`Unknown operation ${JSON.stringify((op as { op?: unknown })?.op)} in ${what} (put, delete, deletePrefix, get or range)`, op);
      }
    }
  }
  function checkCompare(c: Compare): void {
    checkKey(c?.key, 'compared key');
    if (c.target === 'value') {
      if (!(c.value instanceof Uint8Array)) throw bad(`A value compare on ${JSON.stringify(c.key)} needs bytes`, typeof c.value);
      if (c.result !== '=' && c.result !== '!=') throw bad(`A value compare takes = or != (got ${JSON.stringify(c.result)})`, c.result);
    } else if (c.target === 'createRevision' || c.target === 'modRevision' || c.target === 'version') {
      if (typeof c.value !== 'number') throw bad(`A ${c.target} compare on ${JSON.stringify(c.key)} needs a number`, c.value);
      if (!['=', '!=', '<', '>'].includes(c.result)) throw bad(`Unknown compare result ${JSON.stringify(c.result)} (=, !=, < or >)`, c.result);
    } else {
      throw bad(`Unknown compare target ${JSON.stringify((c as { target?: unknown }).target)} (createRevision, modRevision, version or value)`, (c as { target?: unknown }).target);
    }
  }

  // ---- writes
  /**
   * Runs `fn` as one LMDB child transaction in the write queue (in call order; lmdb-js batches the
   * queue into one commit), then waits until it is durable and publishes its entry. `fn` throws
   * only before its first write would be wrong to keep: a throw aborts the child transaction.
   */
  function write<T extends { entry?: Entry | undefined }>(fn: () => T): Promise<T> {
    const p = (async () => {
      let out: T;
      try {
        out = (await env.childTransaction(() => {
          if (failure !== undefined) throw new StoreFailure(failure.message);
          return fn();
        })) as T;
      } catch (e) {
        if (e instanceof StoreFailure) throw throwable(unavailable());
        if (isWeftError(e)) throw e; // a check in `fn`: nothing was written
        throw throwable(fail(e));
      }
      try {
        if (durable) await env.flushed;
      } catch (e) {
        throw throwable(fail(e));
      }
      if (out.entry !== undefined) publish(out.entry);
      return out;
    })();
    inflight.add(p);
    const done = () => inflight.delete(p);
    p.then(done, done);
    return p;
  }

  function compareHolds(c: Compare, rec: Uint8Array | undefined): boolean {
    if (c.target === 'value') {
      if (rec === undefined) return false;
      const eq = recordValueEquals(rec, c.value);
      return c.result === '=' ? eq : !eq;
    }
    const have = rec === undefined ? 0 : recordFields(rec)[c.target];
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

  function rangeKeys(prefix: string): { key: string; kb: Uint8Array; rec: Uint8Array }[] {
    const pb = keyBytes(prefix);
    if (pb.length > maxKey) return [];
    const end = prefixEnd(pb);
    const out: { key: string; kb: Uint8Array; rec: Uint8Array }[] = [];
    for (const { key, value } of kv.getRange({ ...(pb.length > 0 ? { start: pb } : {}), ...(end !== undefined && pb.length > 0 ? { end } : {}) })) {
      out.push({ key: new TextDecoder().decode(key), kb: Uint8Array.from(key), rec: Uint8Array.from(value) });
    }
    return out;
  }

  /**
   * Applies `ops` at the next revision inside the current write transaction. Reads see earlier
   * ops of the same transaction (etcd answers each op in order). `extra` runs with the writes.
   */
  function applyOps(ops: readonly TxnOp[], extra?: () => void): { results: TxnOpResult[]; entry?: Entry } {
    const t = now();
    for (const op of ops) {
      if (op.op === 'put' && (op.lease ?? 0) !== 0) {
        const l = leases.get(op.lease!);
        if (l === undefined || l.ending || l.expiresAt <= t) throw leaseNotFound(op.lease);
      }
    }
    const rev = writeRevision + 1;
    const changes: Change[] = [];
    const results: TxnOpResult[] = [];
    const moves: [string, number, number][] = [];
    const del = (key: string, kb: Uint8Array, old: Uint8Array): void => {
      kv.removeSync(kb);
      changes.push({ type: 'delete', key, keyBytes: kb, prev: old, next: undefined });
      moves.push([key, recordFields(old).lease, 0]);
    };
    for (const op of ops) {
      switch (op.op) {
        case 'get': {
          const rec = kv.get(keyBytes(op.key));
          results.push({ kvs: rec === undefined ? [] : [decodeRecord(op.key, rec)] });
          break;
        }
        case 'range':
          results.push({ kvs: rangeKeys(op.prefix).map((e) => decodeRecord(e.key, e.rec)) });
          break;
        case 'put': {
          const kb = keyBytes(op.key);
          const old = kv.get(kb);
          const f = old === undefined ? undefined : recordFields(old);
          const lease = op.lease ?? 0;
          const rec = encodeRecord({ createRevision: f?.createRevision ?? rev, modRevision: rev, version: (f?.version ?? 0) + 1, lease }, op.value);
          kv.putSync(kb, rec);
          changes.push({ type: 'put', key: op.key, keyBytes: kb, prev: old === undefined ? undefined : Uint8Array.from(old), next: rec });
          moves.push([op.key, f?.lease ?? 0, lease]);
          results.push({});
          break;
        }
        case 'delete': {
          const kb = keyBytes(op.key);
          const old = kv.get(kb);
          if (old !== undefined) del(op.key, kb, Uint8Array.from(old));
          results.push({ deleted: old === undefined ? 0 : 1 });
          break;
        }
        case 'deletePrefix': {
          const under = rangeKeys(op.prefix);
          for (const e of under) del(e.key, e.kb, e.rec);
          results.push({ deleted: under.length });
          break;
        }
      }
    }
    extra?.();
    if (changes.length === 0) return { results };
    log.putSync(revKey(rev), encodeEntry(changes));
    meta.putSync('revision', rev);
    // In memory only after every write of this transaction went into LMDB.
    writeRevision = rev;
    for (const [key, from, to] of moves) {
      if (from === to) continue;
      if (from !== 0) leases.get(from)?.keys.delete(key);
      if (to !== 0) leases.get(to)?.keys.add(key);
    }
    return { results, entry: { revision: rev, changes } };
  }

  /** Ends a lease (expiry or revoke): its record and its keys go in one revision. */
  function endLease(id: number): Promise<unknown> {
    return write(() => {
      const l = leases.get(id);
      if (l === undefined) return {};
      const ops = [...l.keys].sort(compareKeys).map((key): TxnOp => ({ op: 'delete', key }));
      const r = applyOps(ops, () => leaseDb.removeSync(id));
      leases.delete(id);
      return r;
    });
  }

  // ---- publication to watches, in revision order
  function publish(entry: Entry): void {
    pending.set(entry.revision, entry);
    for (let e = pending.get(delivered + 1); e !== undefined; e = pending.get(delivered + 1)) {
      pending.delete(e.revision);
      delivered = e.revision;
      for (const w of watches) {
        if (!w.live || w.closed || e.revision < w.next) continue;
        w.next = e.revision + 1;
        const evs = eventsOf(e.changes, e.revision, w.prefix);
        if (evs.length > 0) emit(w, evs, e.revision);
      }
    }
    maybeCompact();
  }

  function emit(w: WatchState, evs: WatchEvent[], rev: number): void {
    queueMicrotask(() => {
      if (w.closed) return;
      try {
        w.opts.onEvents(evs, rev);
      } catch (e) {
        endWatch(w, errors.internal(PLUGIN, `A watch's onEvents threw at revision ${rev}: ${e instanceof Error ? e.message : String(e)}; the watch was ended`, { value: rev }));
      }
    });
  }

  function endWatch(w: WatchState, err: WeftError | undefined): void {
    if (w.closed) return;
    w.closed = true;
    watches.delete(w);
    if (err !== undefined && w.opts.onError !== undefined) {
      const cb = w.opts.onError;
      queueMicrotask(() => cb(err));
    }
  }

  /** Delivers history from the log in chunks until the watch is level with `delivered`, then goes live. */
  function replay(w: WatchState, retried = false): void {
    if (w.closed) return;
    if (failure !== undefined) return endWatch(w, failure);
    if (w.next < compactRevision) return endWatch(w, compacted(w.next));
    const upto = Math.min(delivered, w.next + REPLAY_CHUNK - 1);
    const entries: [number, Uint8Array][] = [];
    const txn = env.useReadTransaction();
    try {
      for (const { key, value } of log.getRange({ start: revKey(w.next), end: revKey(upto + 1), transaction: txn })) entries.push([revOf(key), Uint8Array.from(value)]);
    } finally {
      txn.done();
    }
    let expect = w.next;
    for (const [rev, value] of entries) {
      if (rev !== expect) break;
      let changes: Change[];
      try {
        changes = decodeEntry(value);
      } catch (e) {
        return endWatch(w, errors.internal(PLUGIN, `Revision ${rev} in the history of ${name} is damaged: ${e instanceof Error ? e.message : String(e)}`, { value: rev }));
      }
      const evs = eventsOf(changes, rev, w.prefix);
      if (evs.length > 0) emit(w, evs, rev);
      expect = rev + 1;
    }
    w.next = expect;
    if (w.next <= upto) {
      // A revision that should be in the log is not: compacted meanwhile, or a stale read snapshot.
      if (w.next < compactRevision) return endWatch(w, compacted(w.next));
      if (!retried) {
        env.resetReadTxn();
        return replay(w, true);
      }
      return endWatch(w, errors.internal(PLUGIN, `Revision ${w.next} is missing from the history of ${name}`, { value: w.next }));
    }
    if (w.next > delivered) w.live = true;
    else setImmediate(() => replay(w));
  }

  // ---- compaction
  async function compactTo(rev: number): Promise<void> {
    if (rev <= compactRevision) return;
    await write(() => {
      meta.putSync('compactRevision', rev);
      compactRevision = Math.max(compactRevision, rev);
      return {};
    });
    await dropHistoryBefore(rev);
  }
  async function dropHistoryBefore(rev: number): Promise<void> {
    for (;;) {
      const n = (
        await write(() => {
          let count = 0;
          for (const key of log.getKeys({ end: revKey(rev), limit: COMPACT_CHUNK })) {
            log.removeSync(Uint8Array.from(key as Uint8Array));
            count++;
          }
          return { count, entry: undefined };
        })
      ).count;
      if (n < COMPACT_CHUNK) return;
    }
  }
  function maybeCompact(): void {
    if (history === 0 || compacting || closed || failure !== undefined) return;
    const step = Math.max(1, Math.floor(history / 10));
    if (delivered - compactRevision + 1 <= history + step) return;
    compacting = true;
    compactTo(delivered - history + 1)
      .catch(() => {}) // a failure has already stopped the store
      .finally(() => (compacting = false));
  }

  // ---- leases: collect the expired
  function collectLeases(): void {
    if (closed || failure !== undefined) return;
    const t = now();
    for (const [id, l] of leases) {
      if (l.ending || l.expiresAt > t) continue;
      l.ending = true;
      endLease(id).catch(() => {});
    }
  }
  const timer = setInterval(collectLeases, o.leaseCheckMs ?? 200);
  (timer as { unref?: () => void }).unref?.();
  collectLeases(); // leases that expired while the store was closed
  if (stragglers) dropHistoryBefore(compactRevision).catch(() => {});

  // ---- reads
  function snapshot<T>(fn: (txn: ReturnType<RootDatabase['useReadTransaction']>) => T): T {
    const txn = env.useReadTransaction();
    try {
      return fn(txn);
    } finally {
      txn.done();
    }
  }

  const store: ClusterStore = {
    async get(key) {
      check();
      const kb = checkKey(key);
      const rec = snapshot((transaction) => kv.get(kb, { transaction }));
      return rec === undefined ? undefined : decodeRecord(key, rec);
    },

    async range(prefix, ro = {}): Promise<RangeResult> {
      check();
      checkPrefix(prefix);
      const limit = ro.limit !== undefined && ro.limit > 0 ? ro.limit : Infinity;
      return snapshot((transaction) => {
        const cur = meta.get('revision', { transaction }) as number;
        const compactedAt = meta.get('compactRevision', { transaction }) as number;
        const at = ro.revision !== undefined && ro.revision > 0 ? ro.revision : cur;
        if (at > cur) throw bad(`Revision ${at} is in the future (${name} is at ${cur})`, at);
        if (at < compactedAt) throw throwable(compacted(at));
        const pb = keyBytes(prefix);
        if (pb.length > maxKey) return { kvs: [], revision: cur, more: false };
        const end = prefixEnd(pb);
        const bounds = { ...(pb.length > 0 ? { start: pb } : {}), ...(end !== undefined && pb.length > 0 ? { end } : {}), transaction };
        if (at === cur) {
          const kvs: KeyValue[] = [];
          let more = false;
          for (const { key, value } of kv.getRange({ ...bounds, ...(limit !== Infinity ? { limit: limit + 1 } : {}) })) {
            if (kvs.length === limit) {
              more = true;
              break;
            }
            kvs.push(decodeRecord(new TextDecoder().decode(key), value));
          }
          return { kvs, revision: cur, more };
        }
        // As of `at`: the current keys, then undo every newer revision, newest first.
        const state = new Map<string, { kb: Uint8Array; rec: Uint8Array }>();
        for (const { key, value } of kv.getRange(bounds)) state.set(new TextDecoder().decode(key), { kb: Uint8Array.from(key), rec: Uint8Array.from(value) });
        for (const { value } of log.getRange({ start: revKey(cur), end: revKey(at), reverse: true, transaction })) {
          const changes = decodeEntry(Uint8Array.from(value));
          for (let i = changes.length - 1; i >= 0; i--) {
            const c = changes[i]!;
            if (!c.key.startsWith(prefix)) continue;
            if (c.prev === undefined) state.delete(c.key);
            else state.set(c.key, { kb: c.keyBytes, rec: c.prev });
          }
        }
        const all = [...state.entries()].sort((a, b) => compareBytes(a[1].kb, b[1].kb));
        const kvs = all.slice(0, limit === Infinity ? all.length : limit).map(([k, e]) => decodeRecord(k, e.rec));
        return { kvs, revision: cur, more: all.length > kvs.length };
      });
    },

    async put(key, value, po = {}) {
      check();
      const op: TxnOp = po.lease !== undefined ? { op: 'put', key, value, lease: po.lease } : { op: 'put', key, value };
      checkOps([op], 'put');
      const r = await write(() => applyOps([op]));
      return r.entry!.revision;
    },

    async delete(key) {
      check();
      checkKey(key);
      const r = await write(() => applyOps([{ op: 'delete', key }]));
      return r.results[0]!.deleted ?? 0;
    },

    async txn(req: TxnRequest): Promise<TxnResponse> {
      check();
      if (req === null || typeof req !== 'object' || !Array.isArray(req.compare)) throw bad('A transaction needs compare (a list, possibly empty), success and optionally failure', req);
      for (const c of req.compare) checkCompare(c);
      checkOps(req.success, 'success');
      checkOps(req.failure, 'failure');
      checkTxnWrites(req, PLUGIN);
      const r = await write(() => {
        const ok = req.compare.every((c) => compareHolds(c, kv.get(keyBytes(c.key))));
        const out = applyOps(ok ? req.success : (req.failure ?? []));
        return { ...out, ok, revision: out.entry?.revision ?? writeRevision };
      });
      return { succeeded: r.ok, revision: r.revision, results: r.results };
    },

    watch(prefix, wo): Watcher {
      const w: WatchState = { prefix, opts: wo, closed: false, next: wo.fromRevision !== undefined && wo.fromRevision > 0 ? wo.fromRevision : delivered + 1, live: false };
      const handle: Watcher = { close: () => endWatch(w, undefined) };
      if (closed || failure !== undefined) {
        w.closed = true;
        const err = unavailable();
        queueMicrotask(() => wo.onError?.(err));
        return handle;
      }
      if (typeof prefix !== 'string') {
        w.closed = true;
        const err = errors.badRequest(PLUGIN, `A watch prefix must be a string (got ${JSON.stringify(prefix)})`, { value: prefix });
        queueMicrotask(() => wo.onError?.(err));
        return handle;
      }
      if (w.next < compactRevision) {
        w.closed = true;
        const err = compacted(w.next);
        queueMicrotask(() => wo.onError?.(err));
        return handle;
      }
      watches.add(w);
      if (w.next > delivered) w.live = true;
      else queueMicrotask(() => replay(w));
      return handle;
    },

    async grantLease(ttlSeconds) {
      check();
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL) {
        throw bad(`A lease TTL must be a whole number of seconds from 1 to ${MAX_TTL} (got ${ttlSeconds})`, ttlSeconds);
      }
      const r = await write(() => {
        const id = nextLease;
        const expiresAt = now() + ttlSeconds * 1000;
        meta.putSync('nextLease', id + 1);
        leaseDb.putSync(id, { ttl: ttlSeconds, expiresAt });
        nextLease = id + 1;
        leases.set(id, { ttl: ttlSeconds, expiresAt, keys: new Set(), ending: false });
        return { id, entry: undefined };
      });
      return r.id;
    },

    async keepAlive(lease) {
      check();
      const l = leases.get(lease);
      if (l === undefined || l.ending) throw leaseNotFound(lease);
      if (l.expiresAt <= now()) {
        collectLeases();
        throw leaseNotFound(lease);
      }
      l.expiresAt = now() + l.ttl * 1000;
      const expiresAt = l.expiresAt;
      await write(() => {
        if (leases.get(lease) === l) leaseDb.putSync(lease, { ttl: l.ttl, expiresAt });
        return {};
      });
      if (leases.get(lease) !== l || l.ending) throw leaseNotFound(lease);
      return l.ttl;
    },

    async revokeLease(lease) {
      check();
      const l = leases.get(lease);
      if (l === undefined) return;
      l.ending = true;
      await endLease(lease);
    },

    async compact(rev) {
      check();
      if (!Number.isSafeInteger(rev) || rev < 0) throw bad(`A compaction revision must be a whole number (got ${rev})`, rev);
      if (rev > writeRevision) throw bad(`Cannot compact at revision ${rev}: ${name} is at ${writeRevision}`, rev);
      await compactTo(rev);
    },

    async status() {
      check();
      return snapshot((transaction) => ({
        backend: 'embedded',
        endpoint: dir,
        revision: meta.get('revision', { transaction }) as number,
        compactRevision: meta.get('compactRevision', { transaction }) as number,
      }));
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const w of watches) endWatch(w, undefined);
      await Promise.allSettled([...inflight]);
      releaseOwner();
      await env.close().catch(() => {});
      openHere.delete(dir);
    },
  };
  return store;
}

/**
 * Makes `dir` hold an initialised store. A new store is built in `<dir>.new` and renamed into
 * place once its format marker is flushed, so an existing `dir` always held a whole database: a
 * missing or empty data file there is damage, never "start empty".
 */
async function prepareDirectory(dir: string, badState: (what: string) => Error): Promise<boolean> {
  const data = path.join(dir, 'data.mdb');
  if (fs.existsSync(dir)) {
    const st = fs.statSync(dir);
    if (!st.isDirectory()) throw badState('it is not a directory');
    if (!fs.existsSync(data)) throw badState(`${data} is missing`);
    if (fs.statSync(data).size === 0) throw badState(`${data} is empty`);
    checkLmdbHeader(data, badState);
    return true;
  }
  const tmp = `${dir}.new`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  fs.mkdirSync(tmp, { mode: 0o700 });
  const env = openLmdb({ path: path.join(tmp, 'data.mdb'), maxDbs: 8, compression: false });
  const meta = env.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
  env.openDB({ name: 'kv', keyEncoding: 'binary', encoding: 'binary' });
  env.openDB({ name: 'log', keyEncoding: 'binary', encoding: 'binary' });
  env.openDB({ name: 'leases', encoding: 'msgpack' });
  env.transactionSync(() => {
    meta.putSync('format', FORMAT);
    meta.putSync('revision', 1);
    meta.putSync('compactRevision', 0);
    meta.putSync('nextLease', 1);
  });
  await env.close();
  fsyncDir(tmp);
  fs.renameSync(tmp, dir);
  fsyncDir(path.dirname(dir));
  return false;
}

/** Runs verify-child.mjs on `file`; a crash or a failure there is damage here. */
async function verifyInChild(file: string, badState: (what: string) => Error): Promise<void> {
  const script = fileURLToPath(new URL('./verify-child.mjs', import.meta.url));
  const deno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const args = deno ? ['run', '--allow-read', '--allow-env', '--allow-ffi', '--allow-sys', script, file] : [script, file];
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return; // no child processes here (a sandbox): open without the check
  }
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  if (r.spawnError !== undefined) return;
  if (r.signal !== null) throw badState(`LMDB cannot read ${file}: reading it crashed a verifying process (${r.signal}), so the file is damaged`);
  if (r.code === 0 && out.includes('"entries"') && !out.includes('"meta"')) throw badState('it holds no Weft format marker (not a Weft cluster store, or damaged)');
  if (r.code !== 0 || !out.includes('"entries"')) {
    const why = err.trim().split('\n').find((l) => /Error|MDB_/.test(l)) ?? `exit code ${r.code}`;
    throw badState(`LMDB cannot read ${file}: ${why.trim()}`);
  }
}

/**
 * LMDB trusts its file: lmdb-js crashes the process (SIGSEGV) on some files that are not LMDB
 * databases instead of returning MDB_INVALID. So before LMDB sees the file, check that one of its
 * two meta pages carries LMDB's magic and this data format (lmdb-js's LMDB: data version 2).
 * LMDB keeps no page checksums: damage past the meta pages is found only as far as the checks at
 * open (revision counter, history tail, lease index) reach.
 */
function checkLmdbHeader(file: string, badState: (what: string) => Error): void {
  const MAGIC = 0xbeefc0de;
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(64);
    const metaAt = (off: number): { magic: number; version: number; psize: number } | undefined => {
      if (off + 64 > size) return undefined;
      fs.readSync(fd, head, 0, 64, off);
      return { magic: head.readUInt32LE(24), version: head.readUInt32LE(28), psize: head.readUInt32LE(48) };
    };
    const first = metaAt(0);
    const candidates = [first?.magic === MAGIC ? first.psize : 0, 4096, 8192, 16384, 65536].filter((p) => p > 0);
    const metas = [first, ...candidates.map((p) => metaAt(p))].filter((m) => m?.magic === MAGIC);
    if (metas.length === 0) throw badState(`it is not a readable LMDB database (${file} has no LMDB meta page: ${size} bytes, neither copy of the header is valid)`);
    const version = metas[0]!.version;
    if (version !== 2) throw badState(`it is not a readable LMDB database (${file} is LMDB data format ${version}; this build reads format 2)`);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(d: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(d, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
