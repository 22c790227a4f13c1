/**
 * `openEtcdStore`: the kernel's `ClusterStore` on a real etcd (v3 API, ≥ 3.4) through the `etcd3`
 * client (gRPC on @grpc/grpc-js). Each contract call is one etcd RPC (status and compaction
 * lookups aside), so revisions, compares, transaction results, watch batches, leases and
 * compaction are etcd's own; see README for the mapping.
 *
 * Failure behaviour:
 * - every unary call carries a gRPC deadline of `timeoutMs` (default 5 s) and a timer of the same
 *   length, so nothing hangs; no automatic retry of a request that may have been applied;
 * - requests carry etcd's `hasleader` metadata (what clientv3's WithRequireLeader sends): a member
 *   that has lost its leader (no quorum) refuses them at once, instead of holding them until
 *   the deadline; such a refusal and a refused connection are retried on the next member;
 * - watches run one gRPC stream each, resume from the revision after the last one delivered on
 *   another member when theirs dies or loses its leader, and end with `onError` only when the
 *   start revision was compacted or the store is closed.
 */
import { randomInt } from 'node:crypto';
import etcd3 from 'etcd3';
import type { CallOptions } from '@grpc/grpc-js';
import type { ICompare, IKeyValue, IRequestOp, IResponseOp, IWatchResponse, Etcd3 as Etcd3Client } from 'etcd3';
import { ConsecutiveBreaker, ConstantBackoff, circuitBreaker, handleWhen, retry } from 'cockatiel';
import {
  ClusterStoreCodes,
  errors,
  throwable,
  type ClusterStore,
  type ClusterStoreOpenOptions,
  type ClusterStoreStatus,
  type Compare,
  type KeyValue,
  type RangeOptions,
  type RangeResult,
  type TxnOp,
  type TxnOpResult,
  type TxnRequest,
  type TxnResponse,
  type WatchEvent,
  type WatchOptions,
  type Watcher,
} from '@weft/kernel';
import { circuitOpen, closedError, connectFailed, notApplied, storeError, timedOut, transient, type StoreError } from './errors.ts';
import { parseEtcdTarget, PLUGIN, type EtcdTarget } from './url.ts';

const ZERO = Buffer.from([0]);
/** How long a request refused for want of a leader (or a connection) keeps being retried. */
export const RETRY_WINDOW_MS = 3000;
const keyBytes = (k: string) => Buffer.from(k, 'utf8');

/** etcd's range_end for "every key starting with prefix" (clientv3.GetPrefixRangeEnd); '' → all keys. */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  if (prefix === '') return { key: ZERO, range_end: ZERO };
  const key = keyBytes(prefix);
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return { key, range_end: end.subarray(0, i + 1) };
    }
  }
  return { key, range_end: ZERO };
}

function kvOf(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    // A copy: grpc-js hands out slices of its receive buffers.
    value: new Uint8Array(kv.value ?? ZERO.subarray(0, 0)),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: Number(kv.lease),
  };
}

const RESULT = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

function compareOf(c: Compare): ICompare {
  const key = keyBytes(c.key);
  const result = RESULT[c.result];
  switch (c.target) {
    case 'value':
      return { key, result, target: 'Value', value: Buffer.from(c.value) };
    case 'createRevision':
      return { key, result, target: 'Create', create_revision: c.value };
    case 'modRevision':
      return { key, result, target: 'Mod', mod_revision: c.value };
    case 'version':
      return { key, result, target: 'Version', version: c.value };
  }
}

function opOf(op: TxnOp): IRequestOp {
  switch (op.op) {
    case 'get':
      return { request_range: { key: keyBytes(op.key) } };
    case 'range':
      return { request_range: prefixRange(op.prefix) };
    case 'put':
      return { request_put: { key: keyBytes(op.key), value: Buffer.from(op.value), lease: op.lease ?? 0 } };
    case 'delete':
      return { request_delete_range: { key: keyBytes(op.key) } };
    case 'deletePrefix':
      return { request_delete_range: prefixRange(op.prefix) };
  }
}

function resultOf(op: TxnOp, r: IResponseOp | undefined): TxnOpResult {
  switch (op.op) {
    case 'get':
    case 'range':
      return { kvs: (r?.response_range?.kvs ?? []).map(kvOf) };
    case 'put':
      return {};
    case 'delete':
    case 'deletePrefix':
      return { deleted: Number(r?.response_delete_range?.deleted ?? 0) };
  }
}

/** Lease IDs the client picks (etcd's LeaseGrant takes one): random, > 0, and exact as a JavaScript number (etcd's own IDs exceed 2^53). */
const newLeaseId = () => randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);

function describeKey(k: string): string {
  return JSON.stringify(k.length > 80 ? `${k.slice(0, 80)}…` : k);
}

/** etcd3's internals this module reaches into (pinned version, checked at open). */
interface PoolInternals {
  readonly pool: { readonly authenticator: { getMetadata(): Promise<{ clone(): { set(k: string, v: string): void } }> } };
}

/**
 * Makes every request carry `hasleader: true` (clientv3's WithRequireLeader): etcd then refuses a
 * request at once when the member has no leader, rather than after its own request timeout.
 */
function requireLeader(client: Etcd3Client): void {
  const auth = (client as unknown as PoolInternals).pool?.authenticator;
  if (auth === undefined || typeof auth.getMetadata !== 'function') {
    throw throwable(errors.internal(PLUGIN, 'The etcd3 client does not have the connection pool this backend expects (was etcd3 upgraded without updating @weft/store-etcd?)'));
  }
  const plain = auth.getMetadata.bind(auth);
  auth.getMetadata = async () => {
    const md = (await plain()).clone();
    md.set('hasleader', 'true');
    return md as never;
  };
}

/** Opens the store named by `opts.url` (etcd:// or etcds://); checks that a member answers (reachable, TLS, etcd ≥ 3.4) before returning. */
export async function openEtcdStore(opts: ClusterStoreOpenOptions): Promise<ClusterStore> {
  const target = parseEtcdTarget(opts);
  const client = new etcd3.Etcd3({
    hosts: target.endpoints.map((e) => `${target.tls ? 'https' : 'http'}://${e}`),
    ...(target.ca !== undefined || target.cert !== undefined
      ? { credentials: { rootCertificate: target.ca as Buffer, ...(target.key !== undefined ? { privateKey: target.key } : {}), ...(target.cert !== undefined ? { certChain: target.cert } : {}) } }
      : {}),
    grpcOptions: {
      // Notice a member that vanished without closing its connections (host down, link cut).
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Reconnect to a member that comes back within seconds, not gRPC's default of up to 2 minutes.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.max_receive_message_length': -1,
    },
    faultHandling: {
      // A member that refused three connections in a row is skipped for a second.
      host: () => circuitBreaker(handleWhen(connectFailed), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      // Only what cannot have been applied goes to the next member; a write that may have been
      // applied is never sent twice.
      global: retry(handleWhen(notApplied), { maxAttempts: target.endpoints.length, backoff: new ConstantBackoff(0) }),
    },
  });
  requireLeader(client);
  const store = new EtcdStore(client, target);
  try {
    await store.verify();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** How many times the watches of a store from `openEtcdStore` were re-established after losing their stream (undefined for other stores). */
export function watchRestarts(store: ClusterStore): number | undefined {
  return store instanceof EtcdStore ? store.watchRestarts : undefined;
}

class EtcdStore implements ClusterStore {
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();
  /** How often a watch stream was lost and created again (on this or another member), for tests and diagnostics. */
  watchRestarts = 0;
  /** The last compaction revision seen (it only grows); the lower bound of the status() search. */
  private knownCompact = 0;

  readonly client: Etcd3Client;
  readonly target: EtcdTarget;

  constructor(client: Etcd3Client, target: EtcdTarget) {
    this.client = client;
    this.target = target;
  }

  /**
   * Runs one etcd call with the store's deadline; maps what it throws. A request refused before
   * etcd could apply it (no connection, "no leader") is tried again on the members, for up to
   * RETRY_WINDOW_MS within the deadline, which rides out a leader election (1–2 s with etcd's
   * default timing); a read (`idempotent`) is also tried again after any transient failure.
   */
  async call<T>(what: string, f: (o: CallOptions) => Promise<T>, idempotent = false): Promise<T> {
    if (this.closed) throw closedError(this.target);
    const ms = this.target.timeoutMs;
    const start = Date.now();
    const retryUntil = start + Math.min(ms, RETRY_WINDOW_MS);
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const late = new Promise<never>((_, reject) => {
      // gRPC's deadline normally fires first; this catches a wait outside the call (connecting, a circuit breaker).
      timer = setTimeout(() => {
        expired = true;
        reject(timedOut(this.target, what));
      }, ms + 250);
    });
    // What a member said: more telling than a later "every member's circuit is open".
    let said: unknown;
    try {
      for (let pause = 50; ; pause = Math.min(pause * 2, 400)) {
        try {
          return await Promise.race([f({ deadline: start + ms }), late]);
        } catch (e) {
          if (this.closed) throw closedError(this.target);
          if (expired) throw e;
          if (!circuitOpen(e)) said = e;
          const again = idempotent ? transient(e) : notApplied(e);
          if (!again || Date.now() + pause >= retryUntil) throw circuitOpen(e) && said !== undefined ? said : e;
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    } catch (e) {
      if (this.closed) throw closedError(this.target);
      throw storeError(e, this.target, what);
    } finally {
      clearTimeout(timer);
    }
  }

  async verify(): Promise<void> {
    const st = await this.call('a status request', (o) => this.client.maintenance.status(o), true);
    const [major, minor] = st.version.split('.').map(Number);
    if (major === undefined || minor === undefined || major < 3 || (major === 3 && minor < 4)) {
      throw throwable(
        errors.badRequest(PLUGIN, `The cluster store ${this.target.display} runs etcd ${st.version}; Weft needs etcd 3.4 or newer`, { code: ClusterStoreCodes.badConfig, value: st.version, hint: 'Upgrade the etcd members to 3.4 or newer.' }),
      );
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.call(`get ${describeKey(key)}`, (o) => this.client.kv.range({ key: keyBytes(key) }, o), true);
    const kv = r.kvs[0];
    return kv === undefined ? undefined : kvOf(kv);
  }

  async range(prefix: string, o: RangeOptions = {}): Promise<RangeResult> {
    const what = `range ${describeKey(prefix)}${o.revision !== undefined ? ` at revision ${o.revision}` : ''}`;
    try {
      const r = await this.call(what, (c) =>
        this.client.kv.range({ ...prefixRange(prefix), ...(o.limit !== undefined && o.limit > 0 ? { limit: o.limit } : {}), ...(o.revision !== undefined && o.revision > 0 ? { revision: o.revision } : {}) }, c),
        true,
      );
      return { kvs: r.kvs.map(kvOf), revision: Number(r.header.revision), more: r.more };
    } catch (e) {
      throw await this.withCompactRevision(e as StoreError);
    }
  }

  async put(key: string, value: Uint8Array, o: { readonly lease?: number } = {}): Promise<number> {
    const r = await this.call(`put ${describeKey(key)}`, (c) => this.client.kv.put({ key: keyBytes(key), value: Buffer.from(value), lease: o.lease ?? 0 }, c));
    return Number(r.header.revision);
  }

  async delete(key: string): Promise<number> {
    const r = await this.call(`delete ${describeKey(key)}`, (c) => this.client.kv.deleteRange({ key: keyBytes(key) }, c));
    return Number(r.deleted);
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    const failure = req.failure ?? [];
    const first = req.success[0] ?? failure[0];
    const what = `a transaction (${req.compare.length} compares, ${req.success.length}+${failure.length} ops${first !== undefined ? `, first on ${describeKey('key' in first ? first.key : first.prefix)}` : ''})`;
    const r = await this.call(what, (c) => this.client.kv.txn({ compare: req.compare.map(compareOf), success: req.success.map(opOf), failure: failure.map(opOf) }, c));
    const ran = r.succeeded ? req.success : failure;
    return { succeeded: r.succeeded, revision: Number(r.header.revision), results: ran.map((op, i) => resultOf(op, r.responses[i])) };
  }

  watch(prefix: string, opts: WatchOptions): Watcher {
    const w = new EtcdWatch(this, prefix, opts);
    if (this.closed) {
      w.fail(closedError(this.target));
      return { close() {} };
    }
    this.watches.add(w);
    w.connect();
    return {
      close: () => {
        w.close();
        this.watches.delete(w);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<number> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw throwable(errors.badRequest(PLUGIN, `A lease TTL must be a whole number of seconds ≥ 1 (got ${ttlSeconds})`, { value: ttlSeconds }));
    }
    for (let attempt = 0; ; attempt++) {
      const id = newLeaseId();
      try {
        const r = await this.call(`grant a lease of ${ttlSeconds} s`, (c) => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: id }, c));
        if (r.error !== '') throw storeError(new Error(`etcdserver: ${r.error}`), this.target, `grant a lease of ${ttlSeconds} s`);
        return Number(r.ID);
      } catch (e) {
        // Another client picked the same ID: pick again.
        if (attempt < 3 && /lease already exists/.test((e as Error).message)) continue;
        throw e;
      }
    }
  }

  async keepAlive(lease: number): Promise<number> {
    const what = `keepAlive of lease ${lease}`;
    const ttl = await this.call(what, async (c) => {
      const stream = await this.client.leaseClient.leaseKeepAlive(c);
      return new Promise<number>((resolve, reject) => {
        stream.on('data', (r) => {
          resolve(Number(r.TTL));
          stream.cancel();
        });
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('etcd closed the keepAlive stream without an answer')));
        stream.write({ ID: lease });
      });
    }, true);
    if (ttl <= 0) {
      throw throwable(errors.notFound(PLUGIN, `Lease ${lease} does not exist in the cluster store ${this.target.display} (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, value: lease, hint: 'Grant a new lease and write the keys again.' }));
    }
    return ttl;
  }

  async revokeLease(lease: number): Promise<void> {
    try {
      await this.call(`revoke lease ${lease}`, (c) => this.client.leaseClient.leaseRevoke({ ID: lease }, c), true);
    } catch (e) {
      if ((e as StoreError).code === ClusterStoreCodes.leaseNotFound) return;
      throw e;
    }
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call(`compact at revision ${revision}`, (c) => this.client.kv.compact({ revision, physical: false }, c), true);
      this.knownCompact = Math.max(this.knownCompact, revision);
    } catch (e) {
      // Compacting at or below the current compaction revision: already done (the contract's no-op).
      if ((e as StoreError).code === ClusterStoreCodes.compacted) return;
      throw e;
    }
  }

  async status(): Promise<ClusterStoreStatus> {
    // A linearizable read: its revision includes every write acknowledged before (Status alone answers from one member's applied state).
    const r = await this.call('a status read', (c) => this.client.kv.range({ key: ZERO, count_only: true }, c), true);
    const revision = Number(r.header.revision);
    return { backend: 'etcd', endpoint: this.target.display, revision, compactRevision: await this.compactRevision(revision) };
  }

  /**
   * etcd reports its compaction revision only to a compacted watch, so this finds it: the lowest
   * revision a read still accepts (a binary search of count-only reads above the last one known).
   */
  async compactRevision(current: number): Promise<number> {
    const readable = async (rev: number): Promise<boolean> => {
      try {
        await this.call(`a read at revision ${rev}`, (c) => this.client.kv.range({ key: ZERO, count_only: true, revision: rev }, c), true);
        return true;
      } catch (e) {
        if ((e as StoreError).code === ClusterStoreCodes.compacted) return false;
        throw e;
      }
    };
    let lo = Math.max(1, this.knownCompact);
    if (await readable(lo)) return lo === 1 ? 0 : lo;
    let hi = current; // always readable
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await readable(mid)) hi = mid;
      else lo = mid;
    }
    this.knownCompact = Math.max(this.knownCompact, hi);
    return hi;
  }

  /** A compacted error carries the compaction revision in `value` (the contract's promise). */
  private async withCompactRevision(e: StoreError): Promise<StoreError> {
    if (e.code !== ClusterStoreCodes.compacted) return e;
    try {
      const st = await this.status();
      return throwable({ ...e, value: st.compactRevision, message: `${e.message} (history starts at revision ${st.compactRevision})` });
    } catch {
      return e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches.clear();
    this.client.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

type WatchStream = Awaited<ReturnType<Etcd3Client['watchClient']['watch']>>;

/**
 * One watch on its own gRPC stream. `next` is the first revision not yet delivered: a reconnect
 * creates the watch again from there, and anything below it is dropped, so a member's death
 * causes neither a gap nor a duplicate.
 */
class EtcdWatch {
  private closed = false;
  private stream: WatchStream | undefined;
  private next: number | undefined;
  private backoffMs = 50;
  private timer: NodeJS.Timeout | undefined;
  private readonly range: { key: Buffer; range_end: Buffer };
  private readonly store: EtcdStore;
  private readonly prefix: string;
  private readonly opts: WatchOptions;

  constructor(store: EtcdStore, prefix: string, opts: WatchOptions) {
    this.store = store;
    this.prefix = prefix;
    this.opts = opts;
    this.next = opts.fromRevision !== undefined && opts.fromRevision > 0 ? opts.fromRevision : undefined;
    this.range = prefixRange(prefix);
  }

  connect(): void {
    if (this.closed) return;
    this.store.client.watchClient.watch().then(
      (s) => {
        // Handlers first: an unhandled 'error' event would take the process down.
        s.on('error', (e: Error) => this.lost(s, e));
        s.on('end', () => this.lost(s, new Error('the watch stream ended')));
        s.on('data', (r: IWatchResponse) => this.receive(s, r));
        if (this.closed) {
          s.cancel();
          return;
        }
        this.stream = s;
        s.write({ create_request: { ...this.range, start_revision: this.next ?? 0, progress_notify: true } });
      },
      (e: Error) => this.lost(undefined, e),
    );
  }

  private receive(s: WatchStream, r: IWatchResponse): void {
    if (this.closed || s !== this.stream) return;
    if (r.canceled) {
      const compacted = Number(r.compact_revision);
      if (compacted > 0) {
        const from = this.next ?? 0;
        this.close();
        this.fail(
          throwable(
            errors.conflict(PLUGIN, `Revision ${from} of the cluster store ${this.store.target.display} has been compacted (history starts at ${compacted}); the watch on ${describeKey(this.prefix)} cannot resume from it`, {
              code: ClusterStoreCodes.compacted,
              value: compacted,
              hint: 'Read the current state with a range, then watch from its revision + 1.',
            }),
          ),
        );
        return;
      }
      // e.g. "etcdserver: no leader": the member lost quorum; try again (another member, later).
      this.lost(s, new Error(r.cancel_reason || 'etcd canceled the watch'));
      return;
    }
    if (r.created) {
      this.backoffMs = 50;
      if (this.next === undefined) this.next = Number(r.header.revision) + 1;
    }
    const events = r.events ?? [];
    if (events.length === 0) {
      // A progress notification: everything up to the header's revision has been sent.
      if (!r.created && this.next !== undefined) this.next = Math.max(this.next, Number(r.header.revision) + 1);
      return;
    }
    // etcd keeps one revision's events in one response, in the order the transaction made them.
    let i = 0;
    while (i < events.length) {
      const rev = Number(events[i]!.kv.mod_revision);
      const batch: WatchEvent[] = [];
      for (; i < events.length && Number(events[i]!.kv.mod_revision) === rev; i++) {
        const e = events[i]!;
        batch.push({ type: e.type === 'Delete' ? 'delete' : 'put', kv: kvOf(e.kv) });
      }
      if (this.next !== undefined && rev < this.next) continue;
      this.next = rev + 1;
      if (this.closed) return;
      try {
        this.opts.onEvents(batch, rev);
      } catch (err) {
        // A throwing consumer must not break the stream's bookkeeping: report it like Node reports an unhandled error.
        queueMicrotask(() => {
          throw err;
        });
      }
      if (this.closed || s !== this.stream) return;
    }
  }

  private lost(s: WatchStream | undefined, _e: Error): void {
    if (this.closed || s !== this.stream) return;
    this.stream = undefined;
    try {
      s?.cancel();
    } catch {
      /* already gone */
    }
    if (this.store.isClosed) return;
    this.store.watchRestarts++;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(1000, this.backoffMs * 2);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  fail(e: StoreError): void {
    this.closed = true;
    queueMicrotask(() => this.opts.onError?.(e));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const s = this.stream;
    this.stream = undefined;
    try {
      s?.cancel();
    } catch {
      /* already gone */
    }
  }
}
