/**
 * Replicated per-network tables on top of gossip membership — what Docker gets from NetworkDB.
 *
 * - Entries (network, table, key) → value, owned by the node that wrote them, ordered by a
 *   Lamport clock; last writer wins (ties: higher owner name), deletes are tombstones reaped after
 *   `tombstoneTtl`.
 * - Attachments (node ∈ network) are themselves LWW facts, broadcast to every Weft node AND carried
 *   in every push/pull, so a node can never miss one forever (moby#53437).
 * - Entry changes are gossiped only among nodes attached to that network: every gossip interval,
 *   `fanout` random attached peers receive the queued changes, each change retransmitted
 *   `retransmitMult × ceil(log10(N+1))` times. A node that joins a network bulk-syncs from the
 *   attached peers, and every attached node bulk-syncs with one random peer each
 *   `bulkSyncInterval` (anti-entropy; heals partitions). Bulk-synced entries are merged without
 *   rebroadcast, so a join does not flood the queues (libnetwork#2216).
 * - When a node stops answering (dead/failed), its entries are KEPT, marked stale, for
 *   `staleGrace`; they come back to fresh if it returns, and are removed only when it leaves, is
 *   removed (`forgetNode`), or the grace runs out (moby#53141: a blip must not wipe DNS).
 */
import { pack, unpack } from 'msgpackr';
import type { TableEntry, TableEvent, Tables, TablesStats } from '@weft/kernel';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** What tables need from membership (a structural subset of @weft/memberlist's Membership). */
export interface TablesHost {
  readonly self: string;
  /** Known members with their state; `weft` marks Weft nodes. */
  members(): readonly { readonly name: string; readonly state: MemberState; readonly weft: boolean }[];
  /** Direct message to one node (best effort). */
  send(node: string, payload: Uint8Array): void;
  /** Epidemic broadcast to every Weft node. */
  broadcast(payload: Uint8Array): void;
  onMessage(fn: (from: string, payload: Uint8Array) => void): void;
  onMember(fn: (e: { readonly type: string; readonly member: { readonly name: string } }) => void): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface TablesConfig {
  gossipInterval: number;
  fanout: number;
  retransmitMult: number;
  bulkSyncInterval: number;
  tombstoneTtl: number;
  staleGrace: number;
  /** Target size of one gossip message. */
  maxBatchBytes: number;
  /**
   * How long `joinNetwork` waits for the first bulk-sync answer of a node already on the network,
   * so a sandbox's command starts with the network's names in hand (ms; 0: do not wait).
   */
  joinSyncTimeout: number;
}

export const TABLES_DEFAULTS: TablesConfig = {
  gossipInterval: 200,
  fanout: 3,
  retransmitMult: 4,
  bulkSyncInterval: 30_000,
  tombstoneTtl: 30 * 60_000,
  staleGrace: 30 * 60_000,
  maxBatchBytes: 1200,
  joinSyncTimeout: 1500,
};

export interface TablesOptions {
  readonly host: TablesHost;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly config?: Partial<TablesConfig>;
  readonly onEvent?: (e: TableEvent) => void;
}

interface Entry {
  value: Uint8Array;
  owner: string;
  lamport: number;
  deleted: boolean;
  stale: boolean;
  /** Local time the tombstone was recorded (for reaping). */
  deletedAt: number;
}

interface Attachment {
  lamport: number;
  joined: boolean;
}

interface Queued {
  table: string;
  key: string;
  sent: number;
}

// Wire: msgpack arrays, first element the message type.
const M_EVENTS = 1; // [1, net, [[table, key, value, owner, lamport, deleted], ...]]
const M_ATTACH = 2; // [2, [[node, net, lamport, joined], ...]]
const M_BULK_REQ = 3; // [3, net]
const M_BULK_RESP = 4; // [4, net, entries[], attachments[]]
const M_EVICT = 5; // [5, node]: the node was removed from the cluster; forget it

type WireEntry = [string, string, Uint8Array, string, number, boolean];
type WireAttach = [string, string, number, boolean];

export interface TablesCounters {
  eventsSent: number;
  eventsReceived: number;
  eventsApplied: number;
  bulkSyncs: number;
  malformed: number;
  queueDepth: number;
}

export class NetworkTables implements Tables {
  private readonly host: TablesHost;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly cfg: TablesConfig;
  private readonly onEvent: (e: TableEvent) => void;
  private lamport = 0;
  private readonly data = new Map<string, Map<string, Entry>>(); // net → "table\0key" → entry
  private readonly attach = new Map<string, Map<string, Attachment>>(); // node → net → attachment
  private readonly queues = new Map<string, Map<string, Queued>>(); // net → "table\0key" → queued
  private readonly staleTimers = new Map<string, unknown>();
  /** `sync` calls waiting for a bulk-sync answer, by network. */
  private readonly syncWaiters = new Map<string, Set<() => void>>();
  private timers: unknown[] = [];
  private running = false;
  readonly counters: TablesCounters = { eventsSent: 0, eventsReceived: 0, eventsApplied: 0, bulkSyncs: 0, malformed: 0, queueDepth: 0 };

  constructor(o: TablesOptions) {
    this.host = o.host;
    this.clock = o.clock;
    this.random = o.random ?? Math.random;
    this.cfg = { ...TABLES_DEFAULTS, ...(o.config ?? {}) };
    this.onEvent = o.onEvent ?? (() => {});
    this.host.onMessage((from, p) => this.receive(from, p));
    this.host.onMember((e) => this.memberEvent(e.type, e.member.name));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const gossip = () => {
      if (!this.running) return;
      this.gossipRound();
      this.timers[0] = this.clock.setTimeout(gossip, this.cfg.gossipInterval);
    };
    const bulk = () => {
      if (!this.running) return;
      for (const net of this.myNetworks()) {
        const peer = this.pick(this.peers(net), 1)[0];
        if (peer !== undefined) this.host.send(peer, pack([M_BULK_REQ, net]));
      }
      this.reapTombstones();
      this.timers[1] = this.clock.setTimeout(bulk, this.cfg.bulkSyncInterval * (0.75 + this.random() * 0.5));
    };
    this.timers = [this.clock.setTimeout(gossip, this.cfg.gossipInterval * this.random()), this.clock.setTimeout(bulk, this.cfg.bulkSyncInterval * this.random())];
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers) this.clock.clearTimeout(t);
    for (const t of this.staleTimers.values()) this.clock.clearTimeout(t);
    this.staleTimers.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Tables contract

  async joinNetwork(net: string): Promise<void> {
    this.setAttachment(this.host.self, net, ++this.lamport, true, true);
    if (!this.data.has(net)) this.data.set(net, new Map());
    // Wait (bounded) for the first node already on the network to send its entries: a sandbox
    // whose command starts right after must find the names that exist elsewhere.
    if (this.peers(net).length > 0 && this.cfg.joinSyncTimeout > 0) await this.sync(net, this.cfg.joinSyncTimeout);
  }

  /**
   * Asks the nodes attached to `net` (every live Weft member when none is known yet) for their
   * entries; resolves true on the first answer, false after `timeoutMs` or when there is no one
   * to ask. Answers merge as any bulk sync does.
   */
  sync(net: string, timeoutMs: number): Promise<boolean> {
    if (!this.data.has(net)) return Promise.resolve(false);
    let targets = this.peers(net);
    if (targets.length === 0) targets = this.host.members().filter((m) => m.weft && m.name !== this.host.self && (m.state === 'alive' || m.state === 'suspect')).map((m) => m.name);
    if (targets.length === 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let waiters = this.syncWaiters.get(net);
      if (waiters === undefined) this.syncWaiters.set(net, (waiters = new Set()));
      const set = waiters;
      const finish = (answered: boolean) => {
        set.delete(onAnswer);
        if (set.size === 0) this.syncWaiters.delete(net);
        this.clock.clearTimeout(timer);
        resolve(answered);
      };
      const onAnswer = () => finish(true);
      const timer = this.clock.setTimeout(() => finish(false), timeoutMs);
      set.add(onAnswer);
      for (const peer of targets) this.host.send(peer, pack([M_BULK_REQ, net]));
    });
  }

  async leaveNetwork(net: string): Promise<void> {
    this.setAttachment(this.host.self, net, ++this.lamport, false, true);
    const m = this.data.get(net);
    if (m !== undefined) {
      for (const [k, e] of m) if (!e.deleted) this.emit('delete', net, k, { ...e, deleted: true });
      this.data.delete(net);
    }
    this.queues.delete(net);
  }

  put(net: string, table: string, key: string, value: Uint8Array): void {
    this.writeLocal(net, table, key, value, false);
  }

  delete(net: string, table: string, key: string): void {
    const cur = this.data.get(net)?.get(ek(table, key));
    if (cur === undefined || cur.deleted) return;
    this.writeLocal(net, table, key, new Uint8Array(0), true);
  }

  get(net: string, table: string, key: string): TableEntry | undefined {
    const e = this.data.get(net)?.get(ek(table, key));
    return e === undefined ? undefined : view(net, table, key, e);
  }

  entries(net: string, table: string): readonly TableEntry[] {
    const out: TableEntry[] = [];
    const m = this.data.get(net);
    if (m === undefined) return out;
    const prefix = `${table}\0`;
    for (const [k, e] of m) if (!e.deleted && k.startsWith(prefix)) out.push(view(net, table, k.slice(prefix.length), e));
    return out;
  }

  /** Live entries per network and table, and the gossip counters (the kernel's `TablesStats`). */
  stats(): TablesStats {
    const entries: { network: string; table: string; count: number }[] = [];
    for (const [net, m] of this.data) {
      const per = new Map<string, number>();
      for (const [k, e] of m) if (!e.deleted) per.set(k.slice(0, k.indexOf('\0')), (per.get(k.slice(0, k.indexOf('\0'))) ?? 0) + 1);
      for (const [table, count] of per) entries.push({ network: net, table, count });
    }
    return { entries, ...this.counters };
  }

  /** Other nodes attached to `net` that are not known dead or gone. */
  peers(net: string): readonly string[] {
    const live = new Set(this.host.members().filter((m) => m.weft && (m.state === 'alive' || m.state === 'suspect')).map((m) => m.name));
    const out: string[] = [];
    for (const [node, nets] of this.attach) if (node !== this.host.self && nets.get(net)?.joined === true && live.has(node)) out.push(node);
    return out.sort();
  }

  /** Every node that has `net` attached, by the attachment facts alone (incl. unreachable ones). */
  attachedNodes(net: string): readonly string[] {
    const out: string[] = [];
    for (const [node, nets] of this.attach) if (nets.get(net)?.joined === true) out.push(node);
    return out.sort();
  }

  myNetworks(): string[] {
    const mine = this.attach.get(this.host.self);
    return mine === undefined ? [] : [...mine].filter(([, a]) => a.joined).map(([n]) => n);
  }

  /** `forgetNode` here and on every other Weft node (the node was removed from the cluster). */
  evict(node: string): void {
    if (node === this.host.self) return;
    this.forgetNode(node);
    this.host.broadcast(pack([M_EVICT, node]));
  }

  /** Removes every trace of a node (it was removed from the cluster). */
  forgetNode(node: string): void {
    const t = this.staleTimers.get(node);
    if (t !== undefined) this.clock.clearTimeout(t);
    this.staleTimers.delete(node);
    this.dropOwned(node);
    this.attach.delete(node);
  }

  // ------------------------------------------------------------------------------------------
  // push/pull hooks: attachments travel with every membership anti-entropy exchange

  localState(): Uint8Array {
    return pack([M_ATTACH, this.allAttachments()]);
  }

  mergeRemoteState(state: Uint8Array): void {
    this.receive('', state);
  }

  // ------------------------------------------------------------------------------------------

  private writeLocal(net: string, table: string, key: string, value: Uint8Array, deleted: boolean): void {
    if (this.attach.get(this.host.self)?.get(net)?.joined !== true) {
      throw new Error(`cannot write to table "${table}" of network "${net}": this node has not joined the network (call joinNetwork first)`);
    }
    const e: Entry = { value: value.slice(), owner: this.host.self, lamport: ++this.lamport, deleted, stale: false, deletedAt: deleted ? this.clock.now() : 0 };
    this.apply(net, ek(table, key), e, true);
  }

  /** LWW merge; returns true when `e` won. */
  private apply(net: string, k: string, e: Entry, rebroadcast: boolean): boolean {
    let m = this.data.get(net);
    if (m === undefined) return false; // not attached: not our business
    const cur = m.get(k);
    if (cur !== undefined && (cur.lamport > e.lamport || (cur.lamport === e.lamport && cur.owner >= e.owner))) return false;
    if (e.deleted && e.deletedAt === 0) e.deletedAt = this.clock.now();
    // an entry from a node we currently consider failed stays marked stale
    e.stale = this.staleTimers.has(e.owner);
    m.set(k, e);
    this.counters.eventsApplied++;
    const type = e.deleted ? (cur === undefined || cur.deleted ? undefined : 'delete') : cur === undefined || cur.deleted ? 'create' : 'update';
    if (type !== undefined) this.emit(type, net, k, e);
    if (rebroadcast) {
      let q = this.queues.get(net);
      if (q === undefined) this.queues.set(net, (q = new Map()));
      const [table, key] = splitEk(k);
      q.set(k, { table, key, sent: 0 });
    }
    return true;
  }

  private emit(type: TableEvent['type'], net: string, k: string, e: Entry): void {
    const [table, key] = splitEk(k);
    try {
      this.onEvent({ type, entry: view(net, table, key, e) });
    } catch {
      /* a listener's failure is not ours */
    }
  }

  private setAttachment(node: string, net: string, lamport: number, joined: boolean, announce: boolean): void {
    let nets = this.attach.get(node);
    if (nets === undefined) this.attach.set(node, (nets = new Map()));
    const cur = nets.get(net);
    if (cur !== undefined && cur.lamport >= lamport) return;
    nets.set(net, { lamport, joined });
    if (!joined && node !== this.host.self) this.dropOwnedIn(node, net);
    if (announce) this.host.broadcast(pack([M_ATTACH, [[node, net, lamport, joined] satisfies WireAttach]]));
  }

  private allAttachments(net?: string): WireAttach[] {
    const out: WireAttach[] = [];
    for (const [node, nets] of this.attach) for (const [n, a] of nets) if (net === undefined || n === net) out.push([node, n, a.lamport, a.joined]);
    return out;
  }

  private gossipRound(): void {
    let depth = 0;
    for (const [net, q] of this.queues) {
      depth += q.size;
      if (q.size === 0) continue;
      const peers = this.peers(net);
      if (peers.length === 0) continue;
      const limit = this.cfg.retransmitMult * Math.ceil(Math.log10(peers.length + 2));
      const m = this.data.get(net);
      const batch: WireEntry[] = [];
      let size = 0;
      // least-transmitted first
      const items = [...q].sort((a, b) => a[1].sent - b[1].sent);
      for (const [k, item] of items) {
        const e = m?.get(k);
        if (e === undefined) {
          q.delete(k);
          continue;
        }
        const w: WireEntry = [item.table, item.key, e.value, e.owner, e.lamport, e.deleted];
        const sz = item.table.length + item.key.length + e.value.length + e.owner.length + 16;
        if (batch.length > 0 && size + sz > this.cfg.maxBatchBytes) break;
        batch.push(w);
        size += sz;
        if (++item.sent >= limit) q.delete(k);
      }
      if (batch.length === 0) continue;
      const msg = pack([M_EVENTS, net, batch]);
      for (const p of this.pick(peers, this.cfg.fanout)) {
        this.host.send(p, msg);
        this.counters.eventsSent += batch.length;
      }
    }
    this.counters.queueDepth = depth;
  }

  private receive(from: string, payload: Uint8Array): void {
    let msg: unknown;
    try {
      msg = unpack(payload);
    } catch {
      this.counters.malformed++;
      return;
    }
    if (!Array.isArray(msg)) {
      this.counters.malformed++;
      return;
    }
    const [type, a, b, c] = msg as [unknown, unknown, unknown, unknown];
    switch (type) {
      case M_EVENTS:
        if (typeof a === 'string' && Array.isArray(b)) this.mergeEntries(a, b, true);
        else this.counters.malformed++;
        return;
      case M_ATTACH:
        if (Array.isArray(a)) this.mergeAttachments(a);
        else this.counters.malformed++;
        return;
      case M_BULK_REQ:
        if (typeof a === 'string' && from !== '' && this.data.has(a)) this.host.send(from, this.bulkResponse(a));
        return;
      case M_BULK_RESP:
        if (typeof a === 'string' && Array.isArray(b) && Array.isArray(c)) {
          this.counters.bulkSyncs++;
          this.mergeAttachments(c);
          this.mergeEntries(a, b, false);
          for (const done of [...(this.syncWaiters.get(a) ?? [])]) done();
        } else this.counters.malformed++;
        return;
      case M_EVICT:
        if (typeof a === 'string' && a !== this.host.self) this.forgetNode(a);
        else this.counters.malformed++;
        return;
      default:
        this.counters.malformed++;
    }
  }

  /** Everything this node holds for `net` (a bulk-sync answer). */
  private bulkResponse(net: string): Uint8Array {
    const entries: WireEntry[] = [];
    for (const [k, e] of this.data.get(net) ?? []) {
      const [t, key] = splitEk(k);
      entries.push([t, key, e.value, e.owner, e.lamport, e.deleted]);
    }
    return pack([M_BULK_RESP, net, entries, this.allAttachments(net)]);
  }

  private mergeEntries(net: string, list: unknown[], rebroadcast: boolean): void {
    for (const w of list) {
      if (!Array.isArray(w) || w.length !== 6) {
        this.counters.malformed++;
        continue;
      }
      const [table, key, value, owner, lamport, deleted] = w as unknown[];
      if (typeof table !== 'string' || typeof key !== 'string' || !(value instanceof Uint8Array) || typeof owner !== 'string' || typeof lamport !== 'number' || typeof deleted !== 'boolean') {
        this.counters.malformed++;
        continue;
      }
      this.counters.eventsReceived++;
      if (lamport > this.lamport) this.lamport = lamport;
      // Our own entries come back to us only as echoes; we are their authority.
      if (owner === this.host.self && this.data.get(net)?.get(ek(table, key)) !== undefined) continue;
      this.apply(net, ek(table, key), { value: new Uint8Array(value), owner, lamport, deleted, stale: false, deletedAt: 0 }, rebroadcast);
    }
  }

  private mergeAttachments(list: unknown[]): void {
    for (const w of list) {
      if (!Array.isArray(w) || w.length !== 4) {
        this.counters.malformed++;
        continue;
      }
      const [node, net, lamport, joined] = w as unknown[];
      if (typeof node !== 'string' || typeof net !== 'string' || typeof lamport !== 'number' || typeof joined !== 'boolean') {
        this.counters.malformed++;
        continue;
      }
      if (lamport > this.lamport) this.lamport = lamport;
      if (node === this.host.self) continue; // we are the authority on our own attachments
      const before = this.attach.get(node)?.get(net);
      this.setAttachment(node, net, lamport, joined, false);
      const after = this.attach.get(node)?.get(net);
      // a newly learned attachment to one of our networks: pull its entries
      if (joined && after !== before && this.data.has(net)) this.host.send(node, pack([M_BULK_REQ, net]));
    }
  }

  private memberEvent(type: string, node: string): void {
    if (node === this.host.self) return;
    if (type === 'dead') {
      if (this.staleTimers.has(node)) return;
      this.staleTimers.set(node, this.clock.setTimeout(() => this.forgetNode(node), this.cfg.staleGrace));
      this.markStale(node, true);
    } else if (type === 'left') {
      this.forgetNode(node);
    } else if (type === 'alive' || type === 'join' || type === 'update') {
      const t = this.staleTimers.get(node);
      if (t === undefined) return;
      this.clock.clearTimeout(t);
      this.staleTimers.delete(node);
      this.markStale(node, false);
      // Sync both ways with the returning node: ask for its entries, and send ours unasked. Our
      // answer to its own request may have been lost: it can arrive before we learn it is back,
      // and a member we do not know (reaped after a long cut) cannot be answered.
      for (const net of this.myNetworks()) {
        if (this.attach.get(node)?.get(net)?.joined !== true) continue;
        this.host.send(node, pack([M_BULK_REQ, net]));
        this.host.send(node, this.bulkResponse(net));
      }
    }
  }

  private markStale(node: string, stale: boolean): void {
    for (const [net, m] of this.data) {
      for (const [k, e] of m) {
        if (e.owner !== node || e.deleted || e.stale === stale) continue;
        e.stale = stale;
        this.emit('update', net, k, e);
      }
    }
  }

  private dropOwned(node: string): void {
    for (const net of [...this.data.keys()]) this.dropOwnedIn(node, net);
  }

  private dropOwnedIn(node: string, net: string): void {
    const m = this.data.get(net);
    if (m === undefined) return;
    for (const [k, e] of m) {
      if (e.owner !== node) continue;
      m.delete(k);
      if (!e.deleted) this.emit('delete', net, k, { ...e, deleted: true });
    }
  }

  private reapTombstones(): void {
    const cutoff = this.clock.now() - this.cfg.tombstoneTtl;
    for (const m of this.data.values()) for (const [k, e] of m) if (e.deleted && e.deletedAt <= cutoff) m.delete(k);
  }

  private pick<T>(xs: readonly T[], n: number): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  }
}

const ek = (table: string, key: string) => `${table}\0${key}`;
function splitEk(k: string): [string, string] {
  const i = k.indexOf('\0');
  return [k.slice(0, i), k.slice(i + 1)];
}
function view(network: string, table: string, key: string, e: Entry): TableEntry {
  return { network, table, key, value: e.value, owner: e.owner, lamport: e.lamport, deleted: e.deleted, stale: e.stale };
}

/** Adapts @weft/memberlist's Membership (structurally) to TablesHost. */
export interface MembershipLike {
  localNode(): { readonly name: string };
  members(): readonly { readonly name: string; readonly state: MemberState; readonly weft: boolean }[];
  sendUser(node: string, payload: Uint8Array): Promise<void>;
  broadcastUser(payload: Uint8Array): void;
  onUser(fn: (m: { readonly from: string; readonly payload: Uint8Array }) => void): () => void;
  onEvent(fn: (e: { readonly type: string; readonly member: { readonly name: string } }) => void): () => void;
}

export function membershipHost(m: MembershipLike): TablesHost {
  return {
    self: m.localNode().name,
    members: () => m.members(),
    send: (node, payload) => {
      m.sendUser(node, payload).catch(() => {});
    },
    broadcast: (payload) => m.broadcastUser(payload),
    onMessage: (fn) => {
      m.onUser((u) => fn(u.from, u.payload));
    },
    onMember: (fn) => {
      m.onEvent(fn);
    },
  };
}
