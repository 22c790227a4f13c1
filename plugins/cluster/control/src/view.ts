/**
 * `ClusterView`: a manager's in-memory copy of the cluster store's `weft/` keys, loaded with one
 * range and kept current by a watch from the next revision. Every manager reads from its view
 * (lists, inspects, validation before a transaction) and writes through transactions; after a
 * write it waits until its view has reached the write's revision, so a client reads its own
 * writes. A watch that fails (compaction, store lost) is resumed with a fresh range.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { silentLogger, type BlockAllocator, type ClusterStore, type KeyValue, type Logger, type WatchEvent, type Watcher } from '@weft/kernel';
import { NodeRecord, type NetworkRecord } from './codecs.ts';
import { NetworkRecord as NetworkCodec } from './codecs.ts';
import { FormatRecord, K, LeaderRecord, ManagerRecord, MetaRecord, parseAttachKey, PREFIX, RingState, SessionRecord, type MetaRecord as Meta } from './keys.ts';
import { VniBitmap } from './vni.ts';

const dec = new TextDecoder();

export type Change = 'meta' | 'ring' | 'nodes' | 'networks' | 'attach' | 'blocks' | 'managers' | 'leader' | 'sessions' | 'format';

/** Changes nodes must see: they bump the snapshot's Seq and are pushed to connected nodes. */
export const snapshotChanged = (c: ReadonlySet<Change>): boolean => c.has('networks') || c.has('nodes') || c.has('ring') || c.has('managers');

function parse<A>(codec: t.Type<A, unknown, unknown>, kv: KeyValue): A | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(kv.value));
  } catch {
    return undefined;
  }
  const r = codec.decode(raw);
  return isLeft(r) ? undefined : r.right;
}

export interface Versioned<T> {
  readonly value: T;
  readonly modRevision: number;
}

export class ClusterView {
  format: FormatRecord | undefined;
  meta: Versioned<Meta> | undefined;
  ring: Versioned<RingState> | undefined;
  fenceRevision = 0;
  readonly nodes = new Map<string, Versioned<NodeRecord>>();
  readonly networks = new Map<string, Versioned<NetworkRecord>>();
  readonly removing = new Set<string>();
  /** network → node → sandboxes */
  readonly attachments = new Map<string, Map<string, Set<string>>>();
  /** pool key (`<net>/<index>`) → modRevision of its block table */
  readonly blockRevisions = new Map<string, number>();
  readonly managers = new Map<string, string>();
  leader: LeaderRecord | undefined;
  readonly sessions = new Map<string, string>();
  readonly vnis = new VniBitmap();
  /** The store revision the view reflects. */
  revision = 0;
  /** Revision of the last change nodes must see (networks, nodes, ring, managers): the snapshot's Seq. */
  seq = 0;

  private readonly store: ClusterStore;
  private readonly blocks: BlockAllocator;
  private readonly log: Logger;
  private readonly onChange: (changes: ReadonlySet<Change>, revision: number) => void;
  private watcher: Watcher | undefined;
  private waiters: { rev: number; resolve: () => void }[] = [];
  private closed = false;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(store: ClusterStore, blocks: BlockAllocator, onChange: (changes: ReadonlySet<Change>, revision: number) => void, log: Logger = silentLogger) {
    this.store = store;
    this.blocks = blocks;
    this.onChange = onChange;
    this.log = log;
  }

  /** Loads everything under `weft/` and starts following changes. */
  async start(): Promise<void> {
    await this.reload();
  }

  private async reload(): Promise<void> {
    const r = await this.store.range(PREFIX);
    this.reset();
    const changes = new Set<Change>();
    for (const kv of r.kvs) this.apply({ type: 'put', kv }, changes);
    this.revision = r.revision;
    this.seq = Math.max(this.seq, r.revision);
    this.follow(r.revision + 1);
    this.release();
    this.onChange(changes, r.revision);
  }

  private reset(): void {
    this.format = undefined;
    this.meta = undefined;
    this.ring = undefined;
    this.fenceRevision = 0;
    this.nodes.clear();
    for (const id of this.networks.keys()) this.dropPools(id);
    this.networks.clear();
    this.removing.clear();
    this.attachments.clear();
    this.blockRevisions.clear();
    this.managers.clear();
    this.leader = undefined;
    this.sessions.clear();
    this.vnis.clearAll();
  }

  private follow(from: number): void {
    this.watcher?.close();
    this.watcher = this.store.watch(PREFIX, {
      fromRevision: from,
      onEvents: (events, revision) => {
        const changes = new Set<Change>();
        for (const e of events) this.apply(e, changes);
        this.revision = Math.max(this.revision, revision);
        if (snapshotChanged(changes)) this.seq = revision;
        this.release();
        this.onChange(changes, revision);
      },
      onError: (e) => {
        if (this.closed) return;
        this.log.warn('the cluster store watch ended; reloading the state', { error: e.message });
        this.scheduleResume();
      },
    });
  }

  private scheduleResume(): void {
    if (this.resumeTimer !== undefined || this.closed) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      if (this.closed) return;
      this.reload().catch((e) => {
        this.log.warn('reloading the cluster state failed; retrying', { error: String(e) });
        this.scheduleResume();
      });
    }, 500);
    this.resumeTimer.unref?.();
  }

  private dropPools(net: string): void {
    for (const key of [...this.blockRevisions.keys()]) {
      if (key.startsWith(`${net}/`)) {
        this.blocks.removePool(key);
        this.blockRevisions.delete(key);
      }
    }
  }

  private apply(e: WatchEvent, changes: Set<Change>): void {
    const key = e.kv.key;
    const put = e.type === 'put';
    const rest = key.slice(PREFIX.length);
    const slash = rest.indexOf('/');
    const kind = slash < 0 ? rest : rest.slice(0, slash);
    const id = slash < 0 ? '' : rest.slice(slash + 1);
    switch (kind) {
      case 'format':
        this.format = put ? parse(FormatRecord, e.kv) : undefined;
        changes.add('format');
        return;
      case 'meta': {
        const v = put ? parse(MetaRecord, e.kv) : undefined;
        this.meta = v === undefined ? undefined : { value: v, modRevision: e.kv.modRevision };
        changes.add('meta');
        return;
      }
      case 'ring': {
        const v = put ? parse(RingState, e.kv) : undefined;
        this.ring = v === undefined ? undefined : { value: v, modRevision: e.kv.modRevision };
        changes.add('ring');
        return;
      }
      case 'fence':
        this.fenceRevision = put ? e.kv.modRevision : 0;
        return;
      case 'leader':
        this.leader = put ? parse(LeaderRecord, e.kv) : undefined;
        changes.add('leader');
        return;
      case 'nodes': {
        const v = put ? parse(NodeRecord, e.kv) : undefined;
        if (v === undefined) this.nodes.delete(id);
        else this.nodes.set(id, { value: v, modRevision: e.kv.modRevision });
        changes.add('nodes');
        return;
      }
      case 'networks': {
        const old = this.networks.get(id);
        if (old !== undefined) for (const v of old.value.VNIs) this.vnis.clear(v);
        const v = put ? parse(NetworkCodec, e.kv) : undefined;
        if (v === undefined) {
          this.networks.delete(id);
          this.attachments.delete(id);
          this.dropPools(id);
        } else {
          this.networks.set(id, { value: v, modRevision: e.kv.modRevision });
          for (const x of v.VNIs) this.vnis.set(x);
          v.Subnets.forEach((sn, i) => this.blocks.addPool(`${id}/${i}`, sn.Subnet));
        }
        changes.add('networks');
        return;
      }
      case 'removing':
        if (put) this.removing.add(id);
        else this.removing.delete(id);
        changes.add('networks');
        return;
      case 'attach': {
        const a = parseAttachKey(key);
        if (a === undefined) return;
        let byNode = this.attachments.get(a.net);
        if (put) {
          if (byNode === undefined) this.attachments.set(a.net, (byNode = new Map()));
          let set = byNode.get(a.node);
          if (set === undefined) byNode.set(a.node, (set = new Set()));
          set.add(a.sandbox);
        } else if (byNode !== undefined) {
          const set = byNode.get(a.node);
          set?.delete(a.sandbox);
          if (set !== undefined && set.size === 0) byNode.delete(a.node);
          if (byNode.size === 0) this.attachments.delete(a.net);
        }
        changes.add('attach');
        return;
      }
      case 'blocks': {
        if (put) {
          const net = id.split('/')[0]!;
          const n = this.networks.get(net);
          const idx = Number(id.split('/')[1]);
          const sn = n?.value.Subnets[idx];
          if (sn !== undefined) this.blocks.addPool(id, sn.Subnet);
          try {
            this.blocks.load(id, e.kv.value);
            this.blockRevisions.set(id, e.kv.modRevision);
          } catch (err) {
            this.log.error('a block table in the cluster store does not decode; ignoring it', { key, error: String(err) });
          }
        } else {
          this.blocks.removePool(id);
          this.blockRevisions.delete(id);
        }
        changes.add('blocks');
        return;
      }
      case 'managers': {
        const v = put ? parse(ManagerRecord, e.kv) : undefined;
        if (v === undefined) this.managers.delete(id);
        else this.managers.set(id, v.Addr);
        changes.add('managers');
        return;
      }
      case 'sessions': {
        const v = put ? parse(SessionRecord, e.kv) : undefined;
        if (v === undefined) this.sessions.delete(id);
        else this.sessions.set(id, v.Manager);
        changes.add('sessions');
        return;
      }
      // `plugins/…` belongs to other plugins; keys this version does not know are left alone.
    }
  }

  /** Resolves once the view reflects `rev` (a write of this manager, or one it read). */
  reached(rev: number): Promise<void> {
    if (this.revision >= rev) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ rev, resolve }));
  }

  private release(): void {
    if (this.waiters.length === 0) return;
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) (this.revision >= w.rev ? w.resolve() : keep.push(w));
    this.waiters = keep;
  }

  /** The sandboxes of each node on `net`, sorted (Docker's network inspect). */
  attachmentsOf(net: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const byNode = this.attachments.get(net);
    if (byNode === undefined) return out;
    for (const node of [...byNode.keys()].sort()) out[node] = [...byNode.get(node)!].sort();
    return out;
  }

  /** The nodes with at least one sandbox on `net` (unsorted; O(1) to ask whether `node` is one). */
  attachedNodes(net: string): ReadonlyMap<string, ReadonlySet<string>> {
    return this.attachments.get(net) ?? new Map();
  }

  hasAttachment(net: string, node: string, sandbox: string): boolean {
    return this.attachments.get(net)?.get(node)?.has(sandbox) ?? false;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}
