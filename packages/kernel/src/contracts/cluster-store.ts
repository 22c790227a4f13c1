/**
 * `ClusterStore`: the swarm's shared state as keys, modelled on etcd's v3 API (KV, Txn, Watch,
 * Lease, Compact), so a real etcd cluster is one backend and an embedded database another.
 *
 * - Every write (a put, a delete, a transaction) gets the next store-wide **revision**; a
 *   transaction's writes share one revision and are atomic. Revisions start at 1 for an empty store.
 * - A key carries `createRevision` (revision of the write that created it since it last did not
 *   exist), `modRevision` (last write), `version` (writes since creation, 1 on create) and the
 *   lease it is bound to. A missing key compares as 0 on all three (etcd's rule), so
 *   `{ target: 'createRevision', result: '=', value: 0 }` means "does not exist".
 * - **Watch** delivers every change under a prefix in revision order, one batch per revision,
 *   from `fromRevision` on, and can resume from any revision not yet compacted; a compacted start
 *   is an error carrying the compaction revision (`WEFT_CLUSTER_STORE_COMPACTED`), never silently
 *   skipped history.
 * - **Leases**: keys bound to a lease vanish (with delete events) when the lease expires or is
 *   revoked. The holder renews it with `keepAlive` at least every TTL/3.
 *
 * Backends are plugins that provide `clusterStore.<scheme>` (a `ClusterStoreBackend`); the control
 * plugin opens the one named by `--cluster-store` (`embedded:` by default, `etcd://H:P,...`).
 * Every backend passes `testClusterStore` from @weft/testing.
 *
 * Keys are strings (UTF-8); values bytes. Errors are WeftErrors: `Unavailable` with code
 * `WEFT_CLUSTER_STORE_UNAVAILABLE` when the store cannot serve (no quorum, unreachable, closed),
 * naming the store; `Conflict`/`BadRequest` never come from a failed compare (that is
 * `succeeded: false`).
 */
import type { WeftError } from '../errors.ts';

export const ClusterStoreCodes = {
  /** The store cannot serve now: unreachable, no quorum, closed. The message names the store. */
  unavailable: 'WEFT_CLUSTER_STORE_UNAVAILABLE',
  /** A watch or read asked for a revision that was compacted away. */
  compacted: 'WEFT_CLUSTER_STORE_COMPACTED',
  /** A lease that does not exist (expired or revoked). */
  leaseNotFound: 'WEFT_CLUSTER_STORE_LEASE_NOT_FOUND',
  /** A URL or option the backend cannot use. */
  badConfig: 'WEFT_CLUSTER_STORE_BAD_CONFIG',
} as const;

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The lease the key is bound to; 0 for none. */
  readonly lease: number;
}

export type CompareResult = '=' | '!=' | '<' | '>';

export type Compare =
  | { readonly key: string; readonly target: 'createRevision' | 'modRevision' | 'version'; readonly result: CompareResult; readonly value: number }
  /** Byte equality; on a missing key the compare is false whatever `result` is (etcd's rule). */
  | { readonly key: string; readonly target: 'value'; readonly result: '=' | '!='; readonly value: Uint8Array };

export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array; readonly lease?: number }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'deletePrefix'; readonly prefix: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'range'; readonly prefix: string };

/** Per op, in order: `kvs` for get/range (sorted by key), `deleted` for deletes, nothing for puts. */
export interface TxnOpResult {
  readonly kvs?: readonly KeyValue[];
  readonly deleted?: number;
}

/**
 * etcd's rule, which every backend enforces so that code tested on one runs on etcd: within one
 * branch a key may be put at most once, and not put when a `delete`/`deletePrefix` of the same
 * branch covers it (deletes may overlap each other). Both branches are checked whichever runs; a
 * transaction that breaks the rule is refused with `BadRequest` and writes nothing.
 */
export interface TxnRequest {
  /** All must hold for `success` to run; otherwise `failure` runs. Empty = always success. */
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export interface TxnResponse {
  readonly succeeded: boolean;
  /** The store's revision after the transaction (unchanged when it wrote nothing). */
  readonly revision: number;
  readonly results: readonly TxnOpResult[];
}

export interface RangeOptions {
  /** At most this many keys (0 or absent: all). `more` tells whether some were left out. */
  readonly limit?: number;
  /** Read as of this revision (must not be compacted). Absent: the latest. */
  readonly revision?: number;
}

export interface RangeResult {
  /** Sorted by key. */
  readonly kvs: readonly KeyValue[];
  /** The store's revision the read saw. */
  readonly revision: number;
  readonly more: boolean;
}

export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue }
  /** `kv.value` is empty; `kv.modRevision` is the revision of the delete. */
  | { readonly type: 'delete'; readonly kv: KeyValue };

export interface WatchOptions {
  /**
   * Deliver changes with revision ≥ `fromRevision` (etcd's `start_revision`). Absent: changes after
   * the watch is established. Typical resume: last delivered revision + 1.
   */
  readonly fromRevision?: number;
  /** One call per revision, in revision order, `events` in the order the transaction made them. */
  readonly onEvents: (events: readonly WatchEvent[], revision: number) => void;
  /**
   * The watch ended and will deliver nothing more: compacted start (code `…_COMPACTED`,
   * `value` = the compaction revision), the store closed or lost. Resume with a new watch.
   */
  readonly onError?: (error: WeftError) => void;
}

export interface Watcher {
  close(): void;
}

export interface ClusterStoreStatus {
  /** `embedded` or `etcd`, ... */
  readonly backend: string;
  /** What the store is, for messages: a path or the endpoints. */
  readonly endpoint: string;
  readonly revision: number;
  readonly compactRevision: number;
}

export interface ClusterStore {
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key that starts with `prefix` ('' = all). */
  range(prefix: string, opts?: RangeOptions): Promise<RangeResult>;
  /** A single put; returns the new revision. */
  put(key: string, value: Uint8Array, opts?: { readonly lease?: number }): Promise<number>;
  /** A single delete; returns how many keys were deleted (0 or 1). */
  delete(key: string): Promise<number>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  watch(prefix: string, opts: WatchOptions): Watcher;

  /** A new lease of `ttlSeconds` (integer ≥ 1; a backend may round up); returns its ID (> 0). */
  grantLease(ttlSeconds: number): Promise<number>;
  /** Renews; the remaining TTL in seconds. A lease that expired: `…_LEASE_NOT_FOUND`. */
  keepAlive(lease: number): Promise<number>;
  /** Ends the lease now; its keys are deleted. Revoking an unknown lease is not an error. */
  revokeLease(lease: number): Promise<void>;

  /** Forgets history before `revision` (watches and reads older than it fail as compacted). */
  compact(revision: number): Promise<void>;
  status(): Promise<ClusterStoreStatus>;
  /** Ends watches (without onError) and releases the connection or the database. */
  close(): Promise<void>;
}

export interface ClusterStoreOpenOptions {
  /** `embedded:` or `etcd://host:port,host:port` (`etcds://` or the TLS files for TLS). */
  readonly url: string;
  /** PEM file paths (etcd's `--cacert/--cert/--key`). */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** How long one request may wait before it fails as unavailable (default: the backend's, ≤ 5 s). */
  readonly timeoutMs?: number;
}

/** What a backend plugin provides as the service `clusterStore.<scheme>`. */
export interface ClusterStoreBackend {
  /** URL schemes it opens, without the colon: `embedded`, `etcd`, `etcds`. */
  readonly schemes: readonly string[];
  /**
   * Whether managers on different hosts can share one store (etcd: yes; embedded: no, it is one
   * host's database). A swarm on a store that is not shared has exactly one manager.
   */
  readonly shared: boolean;
  open(opts: ClusterStoreOpenOptions): Promise<ClusterStore>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** JSON helpers over a ClusterStore value. */
export const jsonValue = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
export const parseJsonValue = <T>(kv: KeyValue): T => JSON.parse(dec.decode(kv.value)) as T;
