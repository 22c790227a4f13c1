/**
 * SWIM + Lifeguard membership compatible with hashicorp/memberlist 0.2.2 (spec §8–§13).
 * Runs on an abstract Transport and Clock so the same code drives real sockets and the
 * in-process simulator. The hot path (probe, gossip, packet handling) is callback-based;
 * only stream operations (push/pull, TCP ping, join, leave) use promises.
 */
import { Keyring } from '../wire/crypto.ts';
import { NODE_STATE, type Alive, type Dead, type IndirectPing, type Message, type NodeStateCode, type Ping, type PushNodeState, type PushPull, type Suspect } from '../wire/types.ts';
import { encodeAck, encodeAlive, encodeDead, encodeErr, encodeIndirectPing, encodeNack, encodePing, encodeSuspect, encodeUser } from '../wire/codec.ts';
import { encodeNodeState, encodePushPullRaw } from '../wire/pushpull.ts';
import { encodePacket, openPacket } from '../wire/packet.ts';
import { decodeStream, encodeStream, encodeStreamUser } from '../wire/stream.ts';
import { decodeTags, encodeSerfLeaveIntent, encodeTags, serfLTime } from '../wire/serf.ts';
import { ENCRYPT_OVERHEAD } from '../wire/crypto.ts';
import { bytesToIp, ipToBytes, parseSeed } from './addr.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast.ts';
import { LAN_DEFAULTS, realClock, type Clock, type GossipConfig, type RandomSource, type Transport } from './types.ts';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';
const STATE_NAMES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface Member {
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  readonly state: MemberState;
  readonly meta: Readonly<Record<string, string>>;
  readonly incarnation: number;
  /** True when the member advertises the `weft=1` tag (safe target for Weft user data). */
  readonly weft: boolean;
  /** memberlist protocol/delegate versions [PMin,PMax,PCur,DMin,DMax,DCur]. */
  readonly vsn: readonly number[];
}

export type MembershipEvent = {
  readonly type: 'join' | 'update' | 'suspect' | 'alive' | 'dead' | 'left' | 'reap';
  readonly member: Member;
};

export interface UserMessage {
  /** Sender name (as claimed by the envelope). */
  readonly from: string;
  readonly payload: Uint8Array;
  readonly broadcast: boolean;
}

export interface MembershipOptions {
  readonly name: string;
  readonly bindAddr: string;
  readonly bindPort: number;
  readonly advertiseAddr?: string;
  readonly advertisePort?: number;
  readonly meta?: Readonly<Record<string, string>>;
  /** AES keys (16/24/32 bytes); the first is primary. */
  readonly keys?: readonly Uint8Array[];
  readonly transport: Transport;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  readonly config?: Partial<GossipConfig>;
  /** Push/pull user state hooks (only exchanged with Weft nodes). */
  readonly localState?: (join: boolean) => Uint8Array;
  readonly mergeRemoteState?: (state: Uint8Array, join: boolean) => void;
  /**
   * Allocates the buffer a push/pull state is encoded into (N × ~100 bytes). The simulator
   * passes its pool, which takes buffers back once they are delivered and decoded, so a
   * push/pull round of thousands of simulated nodes does not allocate gigabytes of short-lived
   * ArrayBuffers (each of which counts toward V8's next full GC). Default: a new buffer.
   */
  readonly streamAlloc?: (size: number) => Uint8Array;
  /** Diagnostic logger (debug lines). */
  readonly log?: (line: string) => void;
}

export interface Counters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  streamsIn: number;
  streamsOut: number;
  messagesIn: number;
  /** Received messages by kind (ping, ack, indirectPing, alive, user, ...). */
  received: Record<string, number>;
  /** Indirect-probe relays performed for others, and nacks sent for them. */
  relays: number;
  nacksSent: number;
  drops: Record<string, number>;
}

/** First byte of every Weft user payload (≥ 10 so serf would only see "unknown type"). */
export const WEFT_MAGIC = 0x57;
const ENV_DIRECT = 1;
const ENV_BROADCAST = 2;
const META_MAX = 512;

interface NodeRec {
  name: string;
  addr: string;
  addrBytes: Uint8Array;
  port: number;
  meta: Uint8Array;
  tags: Record<string, string>;
  weft: boolean;
  vsn: Uint8Array;
  incarnation: number;
  state: NodeStateCode;
  stateChange: number;
  /** `addr:port`, interned per address buffer (the key of addrIndex). */
  addrKey: string;
  /**
   * Cached msgpack pushNodeState. Valid while incarnation and state are unchanged; the
   * other encoded fields (addr, port, meta, vsn) only change together with one of those,
   * and aliveNode clears it whenever it rewrites them.
   */
  ppBytes: Uint8Array | undefined;
  ppInc: number;
  ppState: number;
}

interface Suspicion {
  readonly start: number;
  readonly k: number;
  readonly min: number;
  readonly max: number;
  readonly seen: Set<string>;
  n: number;
  timer: unknown;
  readonly fire: () => void;
}

interface AckHandler {
  ack(): void;
  nack(): void;
}

export class Membership {
  readonly name: string;
  readonly config: GossipConfig;
  readonly counters: Counters = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    streamsIn: 0,
    streamsOut: 0,
    messagesIn: 0,
    received: {},
    relays: 0,
    nacksSent: 0,
    drops: {},
  };
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly ring: Keyring;
  private readonly opts: MembershipOptions;
  private readonly nodeMap = new Map<string, NodeRec>();
  private readonly addrIndex = new Map<string, NodeRec>();
  private nodes: NodeRec[] = [];
  private probeIndex = 0;
  private readonly suspicions = new Map<string, Suspicion>();
  private readonly ackHandlers = new Map<number, AckHandler>();
  private readonly queue = new BroadcastQueue();
  private seqNo = 0;
  private awareness = 0;
  private running = false;
  private leaving = false;
  private timers = new Set<unknown>();
  private addr = '';
  private port = 0;
  private addrBytes: Uint8Array = new Uint8Array(4);
  private metaBytes: Uint8Array;
  private tags: Record<string, string>;
  private readonly listeners = new Set<(e: MembershipEvent) => void>();
  private readonly userListeners = new Set<(m: UserMessage) => void>();
  private serfClock = 0;
  private seeding = false;
  private bcastSeq = 0;
  private readonly seenBroadcasts = new Map<string, number>();

  constructor(opts: MembershipOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.config = { ...LAN_DEFAULTS, ...(opts.config ?? {}) };
    this.transport = opts.transport;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.ring = new Keyring(opts.keys ?? []);
    this.tags = { ...(opts.meta ?? {}), weft: '1' };
    this.metaBytes = encodeTags(this.tags);
    this.bcastSeq = Math.floor(this.random() * 0x100000000) >>> 0;
    if (this.metaBytes.length > META_MAX) throw new Error(`node meta exceeds ${META_MAX} bytes`);
  }

  // ------------------------------------------------------------------------------------
  // lifecycle

  async start(): Promise<void> {
    if (this.running) return;
    const bound = await this.transport.start(
      (d, a, p) => this.onPacket(d, a, p),
      (d) => this.onStream(d),
    );
    this.addr = this.opts.advertiseAddr ?? bound.addr;
    this.port = this.opts.advertisePort ?? bound.port;
    const ab = ipToBytes(this.addr);
    if (ab === undefined) throw new Error(`cannot advertise address ${this.addr}`);
    this.addrBytes = ab;
    this.running = true;
    // our own record (memberlist keeps itself in the node table), incarnation 1
    const self: NodeRec = {
      name: this.name,
      addr: this.addr,
      addrBytes: this.addrBytes,
      port: this.port,
      meta: this.metaBytes,
      tags: this.tags,
      weft: true,
      vsn: Uint8Array.from(this.config.vsn),
      incarnation: 1,
      state: NODE_STATE.alive,
      stateChange: NaN, // set below (double field from the start, see aliveNode)
      addrKey: `${this.addr}:${this.port}`,
      ppBytes: undefined,
      ppInc: 0,
      ppState: 0,
    };
    self.stateChange = this.clock.now();
    this.nodeMap.set(this.name, self);
    this.nodes.push(self);
    this.queueAlive(self);
    this.schedule(() => this.probeTick(), this.config.probeInterval * this.random());
    this.schedule(() => this.gossipTick(), this.config.gossipInterval * this.random());
    // memberlist's pushPullTrigger: a random stagger in [0, PushPullInterval), then the first
    // push/pull one (size-scaled) interval later, and every scaled interval after that.
    this.schedule(() => this.schedulePushPull(), this.config.pushPullInterval * this.random());
  }

  /** Join through seeds (`host`, `host:port`, `name/host:port`). Resolves with how many answered. */
  async join(seeds: readonly string[]): Promise<number> {
    let n = 0;
    for (const s of seeds) {
      const seed = parseSeed(s, this.port || 7946);
      if (seed === undefined) {
        this.log(`join: bad seed ${s}`);
        continue;
      }
      try {
        await this.pushPull(seed.addr, seed.port, true, false);
        n++;
        // If the seed turned out to be a Weft node, swap user state with it as well.
        const rec = this.findByAddr(seed.addr, seed.port);
        if (rec !== undefined && rec.weft && (this.opts.localState !== undefined || this.opts.mergeRemoteState !== undefined))
          await this.pushPull(seed.addr, seed.port, true, true).catch((e: unknown) => this.log(`join user state: ${String(e)}`));
      } catch (e) {
        this.log(`join ${s} failed: ${String(e)}`);
      }
    }
    return n;
  }

  /**
   * Graceful leave: serf leave intent (if enabled), wait `leavePropagateDelay`, then
   * broadcast dead{From=self} and wait until it has been sent (or `timeoutMs`).
   * Probing stops afterwards; call `shutdown()` to close the sockets.
   */
  async leave(timeoutMs = 5000): Promise<void> {
    if (!this.running || this.leaving) return;
    const self = this.nodeMap.get(this.name);
    if (self === undefined) return;
    const others = this.anyAliveOthers();
    if (this.config.serfLeaveIntent && others) {
      const intent = encodeSerfLeaveIntent(this.serfClock + 1, this.name);
      // Gossip alone may spend its few transmissions on recently-dead nodes, so also
      // tell every live member directly (one datagram each).
      for (const n of this.nodes) if (n.name !== this.name && n.state <= NODE_STATE.suspect) this.sendTo(n, [intent], false);
      this.queue.queue({ key: 'serf-leave-intent', msg: intent, weftOnly: false });
      await this.sleep(this.config.leavePropagateDelay);
    }
    this.leaving = true;
    let done: () => void = () => {};
    const sent = new Promise<void>((r) => (done = r));
    const dead = { incarnation: self.incarnation, node: this.name, from: this.name };
    this.deadNode(dead, done);
    const deadMsg = encodeDead(dead);
    for (const n of this.nodes) if (n.name !== this.name && n.state <= NODE_STATE.suspect) this.sendTo(n, [deadMsg], false);
    if (others) await Promise.race([sent, this.sleep(timeoutMs)]);
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  /** Abrupt stop: no leave message, sockets closed. */
  async shutdown(): Promise<void> {
    this.running = false;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    for (const s of this.suspicions.values()) this.clock.clearTimeout(s.timer);
    this.suspicions.clear();
    this.ackHandlers.clear();
    this.queue.reset();
    await this.transport.shutdown();
  }

  // ------------------------------------------------------------------------------------
  // public queries / updates

  members(): Member[] {
    return this.nodes.map((n) => this.toMember(n));
  }

  /** Alias of localNode() (kernel `Membership.self()`). */
  self(): Member {
    return this.localNode();
  }

  /** Keyring view matching the kernel's `Membership.keyring` contract. */
  readonly keyring = {
    install: (key: Uint8Array): void => this.installKey(key),
    use: (key: Uint8Array): void => this.useKey(key),
    remove: (key: Uint8Array): void => this.removeKey(key),
    list: (): readonly Uint8Array[] => this.keys(),
  };

  localNode(): Member {
    const s = this.nodeMap.get(this.name);
    if (s === undefined) throw new Error('not started');
    return this.toMember(s);
  }

  /** Number of members believed alive or suspect (incl. self). */
  numAlive(): number {
    let n = 0;
    for (const x of this.nodes) if (x.state <= NODE_STATE.suspect) n++;
    return n;
  }

  healthScore(): number {
    return this.awareness;
  }

  setMeta(meta: Readonly<Record<string, string>>): void {
    const tags = { ...meta, weft: '1' };
    const bytes = encodeTags(tags);
    if (bytes.length > META_MAX) throw new Error(`node meta exceeds ${META_MAX} bytes`);
    this.tags = tags;
    this.metaBytes = bytes;
    const self = this.nodeMap.get(this.name);
    if (self === undefined) return;
    self.meta = bytes;
    self.tags = tags;
    self.ppBytes = undefined;
    self.incarnation++;
    this.queueAlive(self);
  }

  onEvent(fn: (e: MembershipEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onUser(fn: (m: UserMessage) => void): () => void {
    this.userListeners.add(fn);
    return () => this.userListeners.delete(fn);
  }

  installKey(key: Uint8Array): void {
    this.ring.install(key);
  }
  useKey(key: Uint8Array): void {
    this.ring.use(key);
  }
  removeKey(key: Uint8Array): void {
    this.ring.remove(key);
  }
  keys(): readonly Uint8Array[] {
    return this.ring.all();
  }

  /** Direct user message to a Weft member (UDP if it fits, else TCP). */
  async sendUser(nodeName: string, payload: Uint8Array): Promise<void> {
    const n = this.nodeMap.get(nodeName);
    if (n === undefined) throw new Error(`unknown member ${nodeName}`);
    if (!n.weft) throw new Error(`member ${nodeName} is not a Weft node`);
    const env = this.envelope(ENV_DIRECT, payload);
    const msg = encodeUser(env);
    if (msg.length + 64 <= this.config.udpBufferSize) {
      this.sendTo(n, [msg]);
      return;
    }
    await this.transport.request(n.addr, n.port, encodeStream(encodeStreamUser(env), this.streamOpts()), this.config.tcpTimeout, false);
    this.counters.streamsOut++;
  }

  /** Epidemic broadcast to all Weft members (re-gossiped by receivers, deduplicated). */
  broadcastUser(payload: Uint8Array): void {
    const env = this.envelope(ENV_BROADCAST, payload);
    const max = this.config.udpBufferSize - 2 - 2 - 5 - (this.ring.enabled ? ENCRYPT_OVERHEAD : 0);
    if (env.length + 1 > max) throw new Error(`broadcast payload too large (max ${max - 1 - (env.length - payload.length)} bytes)`);
    this.markSeen(env);
    this.queue.queue({ key: undefined, msg: encodeUser(env), weftOnly: true });
  }

  /**
   * Testing/simulation aid: install members as if learned by push/pull, without queueing
   * re-gossip (lets the simulator start large clusters already converged).
   */
  seedMembers(alives: readonly Alive[]): void {
    this.seeding = true;
    for (const a of alives) if (a.node !== this.name) this.aliveNode(a, false);
    this.seeding = false;
    this.queue.reset();
    this.queueAlive(this.nodeMap.get(this.name) as NodeRec);
  }

  /** Alive message describing this node (for seeding simulations). */
  selfAlive(): Alive {
    return this.aliveMsg(this.nodeMap.get(this.name) as NodeRec);
  }

  /** Pending broadcasts (diagnostics). */
  queuedBroadcasts(): number {
    return this.queue.length;
  }

  // ------------------------------------------------------------------------------------
  // internals: helpers

  private log(line: string): void {
    this.opts.log?.(`[${this.name}] ${line}`);
  }

  private drop(reason: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }

  private schedule(fn: () => void, ms: number): unknown {
    const h = this.clock.setTimeout(() => {
      this.timers.delete(h);
      fn();
    }, ms);
    this.timers.add(h);
    return h;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.clock.setTimeout(r, ms));
  }

  private toMember(n: NodeRec): Member {
    return {
      name: n.name,
      addr: n.addr,
      port: n.port,
      state: STATE_NAMES[n.state] as MemberState,
      meta: n.tags,
      incarnation: n.incarnation,
      weft: n.weft,
      vsn: Array.from(n.vsn),
    };
  }

  private emit(type: MembershipEvent['type'], n: NodeRec): void {
    if (this.listeners.size === 0) return;
    const e = { type, member: this.toMember(n) };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log(`event listener threw: ${String(err)}`);
      }
    }
  }

  private findByAddr(addr: string, port: number): NodeRec | undefined {
    const n = this.addrIndex.get(addr + ':' + port);
    return n !== undefined && n.name !== this.name ? n : undefined;
  }

  private anyAliveOthers(): boolean {
    return this.nodes.some((n) => n.name !== this.name && n.state === NODE_STATE.alive);
  }

  private nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  private applyAwareness(delta: number): void {
    this.awareness = Math.max(0, Math.min(this.config.awarenessMaxMultiplier - 1, this.awareness + delta));
  }

  private scaled(ms: number): number {
    return ms * (this.awareness + 1);
  }

  private streamOpts() {
    return { compress: this.config.enableCompression, keyring: this.ring.enabled ? this.ring : undefined };
  }

  private transmitLimit(): number {
    return retransmitLimit(this.config.retransmitMult, this.nodes.length);
  }

  /** Random sample of up to k nodes matching `pred` (partial Fisher–Yates over candidates). */
  private kRandom(k: number, pred: (n: NodeRec) => boolean): NodeRec[] {
    const len = this.nodes.length;
    if (len > 64) {
      // rejection sampling (cheap for large tables); fall back to a scan if unlucky
      const out: NodeRec[] = [];
      for (let tries = 0; tries < 8 * k && out.length < k; tries++) {
        const n = this.nodes[Math.floor(this.random() * len)] as NodeRec;
        if (pred(n) && !out.includes(n)) out.push(n);
      }
      if (out.length === k) return out;
    }
    const c = this.nodes.filter(pred);
    const out: NodeRec[] = [];
    for (let i = 0; i < c.length && out.length < k; i++) {
      const j = i + Math.floor(this.random() * (c.length - i));
      const t = c[j] as NodeRec;
      c[j] = c[i] as NodeRec;
      c[i] = t;
      out.push(t);
    }
    return out;
  }

  private rawSend(addr: string, port: number, bytes: Uint8Array): void {
    this.counters.packetsOut++;
    this.counters.bytesOut += bytes.length;
    this.transport.sendPacket(addr, port, bytes);
  }

  /** Send messages to a node/address, piggybacking queued broadcasts (memberlist sendMsg). */
  private sendTo(target: { addr: string; port: number }, msgs: Uint8Array[], piggyback = true): void {
    const rec = 'name' in target ? (target as NodeRec) : this.findByAddr(target.addr, target.port);
    let parts = msgs;
    if (piggyback) {
      let used = 2;
      for (const m of msgs) used += 2 + m.length;
      const avail = this.config.udpBufferSize - used - (this.ring.enabled ? ENCRYPT_OVERHEAD : 0) - 5;
      const extra = this.queue.get(2, avail, this.transmitLimit(), rec?.weft === true && rec.name !== this.name, 255 - msgs.length);
      if (extra.length > 0) parts = [...msgs, ...extra];
    }
    const crc = rec !== undefined && (rec.vsn[1] ?? 0) >= 5;
    const pkt = encodePacket(parts, {
      compress: this.config.enableCompression && parts.length > 1,
      crc,
      keyring: this.ring.enabled ? this.ring : undefined,
    });
    this.rawSend(target.addr, target.port, pkt);
  }

  private envelope(kind: number, payload: Uint8Array): Uint8Array {
    const name = new TextEncoder().encode(this.name).subarray(0, 255);
    const extra = kind === ENV_BROADCAST ? 4 : 0;
    const out = new Uint8Array(3 + name.length + extra + payload.length);
    out[0] = WEFT_MAGIC;
    out[1] = kind;
    out[2] = name.length;
    out.set(name, 3);
    if (kind === ENV_BROADCAST) {
      this.bcastSeq = (this.bcastSeq + 1) >>> 0;
      new DataView(out.buffer).setUint32(3 + name.length, this.bcastSeq);
    }
    out.set(payload, 3 + name.length + extra);
    return out;
  }

  private markSeen(env: Uint8Array): boolean {
    const nl = env[2] ?? 0;
    const key = Buffer.from(env.subarray(2, 3 + nl + 4)).toString('latin1');
    if (this.seenBroadcasts.has(key)) return false;
    const now = this.clock.now();
    this.seenBroadcasts.set(key, now);
    if (this.seenBroadcasts.size > 4096) {
      for (const [k, t] of this.seenBroadcasts) if (now - t > 120_000 || this.seenBroadcasts.size > 8192) this.seenBroadcasts.delete(k);
    }
    return true;
  }

  // ------------------------------------------------------------------------------------
  // broadcasts about nodes

  private aliveMsg(n: NodeRec): Alive {
    return { incarnation: n.incarnation, node: n.name, addr: n.addrBytes, port: n.port, meta: n.meta, vsn: n.vsn };
  }

  private queueAlive(n: NodeRec, onDone?: () => void): void {
    const b = { key: n.name, msg: encodeAlive(this.aliveMsg(n)), weftOnly: false };
    this.queue.queue(onDone === undefined ? b : { ...b, onDone });
  }

  private refute(self: NodeRec, accused: number): void {
    let inc = self.incarnation + 1;
    if (accused >= inc) inc = accused + 1;
    self.incarnation = inc;
    this.applyAwareness(1);
    this.queueAlive(self);
    this.log(`refuting with incarnation ${inc}`);
  }

  private aliveNode(a: Alive, bootstrap: boolean): void {
    if (this.leaving && a.node === this.name) return;
    if (a.vsn.length >= 3) {
      const pmin = a.vsn[0] as number;
      const pmax = a.vsn[1] as number;
      if (pmin === 0 || pmax === 0 || pmin > pmax) return this.drop('bad-vsn');
    }
    if (a.vsn.length !== 6) return this.drop('bad-vsn');
    if (a.node === '') return this.drop('empty-name');
    let st = this.nodeMap.get(a.node);
    let updatesNode = false;
    if (st === undefined) {
      const addr = ipOf(a.addr);
      if (addr === '') return this.drop('bad-addr');
      st = {
        name: a.node,
        addr,
        addrBytes: a.addr,
        port: a.port,
        meta: a.meta,
        tags: tagsOf(a.meta),
        weft: false,
        vsn: a.vsn,
        incarnation: 0,
        state: NODE_STATE.dead,
        // Created as a double field (NaN), then set: when a record's first value is a small
        // integer (a simulator starting at t = 0), V8 makes the field an integer one, and the
        // first fractional time stored later deprecates the shape of every record built here,
        // so each is migrated on its next access (millions in large simulations).
        stateChange: NaN,
        addrKey: addrKeyOf(a.addr, addr, a.port),
        ppBytes: undefined,
        ppInc: 0,
        ppState: 0,
      };
      st.weft = st.tags['weft'] === '1';
      st.stateChange = this.clock.now();
      this.nodeMap.set(a.node, st);
      this.addrIndex.set(st.addrKey, st);
      // insert at a random position (keeps the failure-detection bound low)
      const off = Math.floor(this.random() * (this.nodes.length + 1));
      this.nodes.push(st);
      const last = this.nodes.length - 1;
      const tmp = this.nodes[off] as NodeRec;
      this.nodes[off] = st;
      this.nodes[last] = tmp;
    } else if (!bytesEq(st.addrBytes, a.addr) || st.port !== a.port) {
      if (st.state === NODE_STATE.left) updatesNode = true;
      else {
        this.log(`conflicting address for ${a.node}`);
        return this.drop('addr-conflict');
      }
    }
    const isLocal = st.name === this.name;
    if (a.incarnation <= st.incarnation && !isLocal && !updatesNode) return;
    if (a.incarnation < st.incarnation && isLocal) return;
    this.clearSuspicion(a.node);
    const oldState = st.state;
    const oldMeta = st.meta;
    if (!bootstrap && isLocal) {
      if (a.incarnation === st.incarnation && bytesEq(a.meta, st.meta) && bytesEq(a.vsn, st.vsn)) return;
      this.refute(st, a.incarnation);
      return;
    }
    if (!this.seeding) this.queue.queue({ key: a.node, msg: encodedOnce(a, encodeAlive), weftOnly: false });
    st.vsn = a.vsn;
    st.incarnation = a.incarnation;
    st.ppBytes = undefined;
    if (!bytesEq(st.meta, a.meta)) {
      st.meta = a.meta;
      st.tags = tagsOf(a.meta);
      st.weft = st.tags['weft'] === '1';
    }
    if (!bytesEq(st.addrBytes, a.addr) || st.port !== a.port) {
      if (this.addrIndex.get(st.addrKey) === st) this.addrIndex.delete(st.addrKey);
      st.addrBytes = a.addr;
      st.addr = ipOf(a.addr);
      st.port = a.port;
      st.addrKey = addrKeyOf(a.addr, st.addr, a.port);
      this.addrIndex.set(st.addrKey, st);
    }
    if (st.state !== NODE_STATE.alive) {
      st.state = NODE_STATE.alive;
      st.stateChange = this.clock.now();
    }
    if (oldState === NODE_STATE.dead || oldState === NODE_STATE.left) this.emit('join', st);
    else if (!bytesEq(oldMeta, st.meta)) this.emit('update', st);
    else if (oldState === NODE_STATE.suspect) this.emit('alive', st);
  }

  private suspectNode(s: Suspect): void {
    const st = this.nodeMap.get(s.node);
    if (st === undefined) return;
    if (s.incarnation < st.incarnation) return;
    const timer = this.suspicions.get(s.node);
    if (timer !== undefined) {
      if (this.confirm(timer, s.from)) this.queue.queue({ key: s.node, msg: encodedOnce(s, encodeSuspect), weftOnly: false });
      return;
    }
    if (st.state !== NODE_STATE.alive) return;
    if (st.name === this.name) {
      this.refute(st, s.incarnation);
      return;
    }
    this.queue.queue({ key: s.node, msg: encodedOnce(s, encodeSuspect), weftOnly: false });
    st.incarnation = s.incarnation;
    st.state = NODE_STATE.suspect;
    const changeTime = this.clock.now();
    st.stateChange = changeTime;
    const n = this.nodes.length;
    let k = this.config.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(this.config.suspicionMult, n, this.config.probeInterval);
    const max = this.config.suspicionMaxTimeoutMult * min;
    const fire = () => {
      this.suspicions.delete(s.node);
      const cur = this.nodeMap.get(s.node);
      if (cur !== undefined && cur.state === NODE_STATE.suspect && cur.stateChange === changeTime)
        this.deadNode({ incarnation: cur.incarnation, node: cur.name, from: this.name });
    };
    const sus: Suspicion = { start: changeTime, k, min, max, seen: new Set([s.from]), n: 0, timer: undefined, fire };
    sus.timer = this.clock.setTimeout(fire, k < 1 ? min : max);
    this.suspicions.set(s.node, sus);
    this.emit('suspect', st);
  }

  private confirm(s: Suspicion, from: string): boolean {
    if (s.n >= s.k) return false;
    if (s.seen.has(from)) return false;
    s.seen.add(from);
    s.n++;
    const timeout = Math.max(s.min, s.max - ((s.max - s.min) * Math.log(s.n + 1)) / Math.log(s.k + 1));
    this.clock.clearTimeout(s.timer);
    const remaining = s.start + timeout - this.clock.now();
    s.timer = this.clock.setTimeout(s.fire, Math.max(0, remaining));
    return true;
  }

  private clearSuspicion(name: string): void {
    const s = this.suspicions.get(name);
    if (s !== undefined) {
      this.clock.clearTimeout(s.timer);
      this.suspicions.delete(name);
    }
  }

  private deadNode(d: Dead, onDone?: () => void): void {
    const st = this.nodeMap.get(d.node);
    if (st === undefined) return;
    if (d.incarnation < st.incarnation) return;
    this.clearSuspicion(d.node);
    if (st.state === NODE_STATE.dead || st.state === NODE_STATE.left) return;
    if (st.name === this.name && !this.leaving) {
      this.refute(st, d.incarnation);
      return;
    }
    const b = { key: d.node, msg: encodedOnce(d, encodeDead), weftOnly: false };
    this.queue.queue(onDone === undefined ? b : { ...b, onDone });
    st.incarnation = d.incarnation;
    st.state = d.node === d.from ? NODE_STATE.left : NODE_STATE.dead;
    st.stateChange = this.clock.now();
    this.emit(st.state === NODE_STATE.left ? 'left' : 'dead', st);
  }

  // ------------------------------------------------------------------------------------
  // probe loop

  private probeTick(): void {
    if (!this.running || this.leaving) return;
    const start = this.clock.now();
    const next = () => {
      if (!this.running || this.leaving) return;
      const wait = Math.max(0, start + this.config.probeInterval - this.clock.now());
      this.schedule(() => this.probeTick(), wait);
    };
    const target = this.nextProbeTarget();
    if (target === undefined) return next();
    this.probeNode(target, next);
  }

  private nextProbeTarget(): NodeRec | undefined {
    for (let checked = 0; checked <= this.nodes.length; checked++) {
      if (this.probeIndex >= this.nodes.length) {
        this.resetNodes();
        this.probeIndex = 0;
        if (this.nodes.length === 0) return undefined;
      }
      const n = this.nodes[this.probeIndex++] as NodeRec;
      if (n.name === this.name || n.state === NODE_STATE.dead || n.state === NODE_STATE.left) continue;
      return n;
    }
    return undefined;
  }

  /** Reap dead/left nodes older than gossipToTheDeadTime and reshuffle. */
  private resetNodes(): void {
    const now = this.clock.now();
    const keep: NodeRec[] = [];
    for (const n of this.nodes) {
      if ((n.state === NODE_STATE.dead || n.state === NODE_STATE.left) && now - n.stateChange > this.config.gossipToTheDeadTime) {
        this.nodeMap.delete(n.name);
        if (this.addrIndex.get(n.addrKey) === n) this.addrIndex.delete(n.addrKey);
        this.emit('reap', n);
        continue;
      }
      keep.push(n);
    }
    for (let i = keep.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = keep[i] as NodeRec;
      keep[i] = keep[j] as NodeRec;
      keep[j] = t;
    }
    this.nodes = keep;
  }

  private probeNode(target: NodeRec, done: () => void): void {
    const seq = this.nextSeq();
    const interval = this.scaled(this.config.probeInterval);
    let finished = false;
    let nacks = 0;
    let expectedNacks = 0;
    let fallbackOk = false;
    const timers: unknown[] = [];
    const finish = (ok: boolean) => {
      if (finished) return;
      finished = true;
      for (const t of timers) this.clock.clearTimeout(t);
      this.ackHandlers.delete(seq);
      if (ok) this.applyAwareness(-1);
      else {
        this.applyAwareness(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
        const cur = this.nodeMap.get(target.name);
        if (cur !== undefined && this.running && !this.leaving)
          this.suspectNode({ incarnation: cur.incarnation, node: cur.name, from: this.name });
      }
      done();
    };
    this.ackHandlers.set(seq, { ack: () => finish(true), nack: () => void nacks++ });
    const ping = encodePing({ seqNo: seq, node: target.name, sourceAddr: this.addrBytes, sourcePort: this.port, sourceNode: this.name });
    if (target.state === NODE_STATE.alive) this.sendTo(target, [ping]);
    else this.sendTo(target, [ping, encodeSuspect({ incarnation: target.incarnation, node: target.name, from: this.name })], false);

    timers.push(
      this.clock.setTimeout(() => {
        if (finished || !this.running) return;
        // indirect probes
        const peers = this.kRandom(
          this.config.indirectChecks,
          (n) => n.name !== this.name && n.name !== target.name && n.state === NODE_STATE.alive,
        );
        for (const p of peers) {
          const wantNack = (p.vsn[1] ?? 0) >= 4;
          if (wantNack) expectedNacks++;
          const req: IndirectPing = {
            seqNo: seq,
            target: target.addrBytes,
            port: target.port,
            node: target.name,
            nack: wantNack,
            sourceAddr: this.addrBytes,
            sourcePort: this.port,
            sourceNode: this.name,
          };
          this.sendTo(p, [encodeIndirectPing(req)]);
        }
        if (this.config.tcpPings && (target.vsn[1] ?? 0) >= 3) {
          const remaining = Math.max(1, interval - this.config.probeTimeout);
          this.tcpPing(target, seq, remaining).then(
            (ok) => {
              if (ok) fallbackOk = true;
            },
            () => {},
          );
        }
      }, this.config.probeTimeout),
    );
    timers.push(
      this.clock.setTimeout(() => {
        if (finished) return;
        if (fallbackOk) {
          this.log(`${target.name} answered only over TCP; network may be misconfigured`);
          finish(true);
        } else finish(false);
      }, interval),
    );
  }

  private async tcpPing(target: NodeRec, seq: number, timeoutMs: number): Promise<boolean> {
    const ping = encodePing({ seqNo: seq, node: target.name, sourceAddr: this.addrBytes, sourcePort: this.port, sourceNode: this.name });
    this.counters.streamsOut++;
    const reply = await this.transport.request(target.addr, target.port, encodeStream(ping, this.streamOpts()), timeoutMs, true);
    if (reply === undefined) return false;
    const d = decodeStream(reply, this.ring.enabled ? this.ring : undefined);
    return d.ok && d.value.kind === 'ack' && d.value.msg.seqNo === seq;
  }

  // ------------------------------------------------------------------------------------
  // gossip + push/pull loops

  private gossipTick(): void {
    if (!this.running) return;
    this.schedule(() => this.gossipTick(), this.config.gossipInterval);
    if (this.queue.length === 0) return;
    const now = this.clock.now();
    const targets = this.kRandom(
      this.config.gossipNodes,
      (n) =>
        n.name !== this.name &&
        (n.state <= NODE_STATE.suspect || now - n.stateChange < this.config.gossipToTheDeadTime),
    );
    const avail = this.config.udpBufferSize - 2 - (this.ring.enabled ? ENCRYPT_OVERHEAD : 0) - 5;
    for (const t of targets) {
      const msgs = this.queue.get(2, avail, this.transmitLimit(), t.weft);
      if (msgs.length === 0) continue;
      const pkt = encodePacket(msgs, {
        compress: this.config.enableCompression && msgs.length > 1,
        crc: (t.vsn[1] ?? 0) >= 5,
        keyring: this.ring.enabled ? this.ring : undefined,
      });
      this.rawSend(t.addr, t.port, pkt);
    }
  }

  /** Next push/pull after memberlist's pushPullScale(interval, N): × (ceil(log2 N − log2 32) + 1) above 32 nodes. */
  private schedulePushPull(): void {
    if (!this.running || this.leaving) return;
    const n = this.nodes.length;
    const mult = n > 32 ? Math.ceil(Math.log2(n) - Math.log2(32)) + 1 : 1;
    this.schedule(() => this.pushPullTick(), this.config.pushPullInterval * mult);
  }

  private pushPullTick(): void {
    if (!this.running || this.leaving) return;
    this.schedulePushPull();
    const [peer] = this.kRandom(1, (x) => x.name !== this.name && x.state === NODE_STATE.alive);
    if (peer === undefined) return;
    this.pushPull(peer.addr, peer.port, false, peer.weft).catch((e: unknown) => this.log(`push/pull with ${peer.name}: ${String(e)}`));
  }

  private nodeStateBytes(n: NodeRec): Uint8Array {
    if (n.ppBytes !== undefined && n.ppInc === n.incarnation && n.ppState === n.state) return n.ppBytes;
    n.ppInc = n.incarnation;
    n.ppState = n.state;
    const hit = stateCache.get(n.addrBytes);
    if (
      hit !== undefined &&
      hit.incarnation === n.incarnation &&
      hit.state === n.state &&
      hit.port === n.port &&
      hit.name === n.name &&
      hit.meta === n.meta &&
      hit.vsn === n.vsn
    ) {
      n.ppBytes = hit.bytes;
      return hit.bytes;
    }
    const bytes = encodeNodeState({
      name: n.name,
      addr: n.addrBytes,
      port: n.port,
      meta: n.meta,
      incarnation: n.incarnation,
      state: n.state,
      vsn: n.vsn,
    });
    n.ppBytes = bytes;
    stateCache.set(n.addrBytes, { name: n.name, port: n.port, meta: n.meta, vsn: n.vsn, incarnation: n.incarnation, state: n.state, bytes });
    return bytes;
  }

  private localPushPull(join: boolean, withUserState: boolean): Uint8Array {
    const states = this.nodes.map((n) => this.nodeStateBytes(n));
    let userState: Uint8Array = new Uint8Array(0);
    if (withUserState && this.opts.localState !== undefined) {
      const s = this.opts.localState(join);
      userState = new Uint8Array(s.length + 1);
      userState[0] = WEFT_MAGIC;
      userState.set(s, 1);
    }
    return encodePushPullRaw(join, states, userState, this.opts.streamAlloc);
  }

  private async pushPull(addr: string, port: number, join: boolean, withUserState: boolean): Promise<void> {
    const req = encodeStream(this.localPushPull(join, withUserState), this.streamOpts());
    this.counters.streamsOut++;
    const reply = await this.transport.request(addr, port, req, this.config.tcpTimeout, true);
    if (reply === undefined) throw new Error('no reply');
    const d = decodeStream(reply, this.ring.enabled ? this.ring : undefined);
    if (!d.ok) {
      this.drop('bad-stream');
      throw new Error(d.error);
    }
    if (d.value.kind === 'err') throw new Error(`remote error: ${d.value.error}`);
    if (d.value.kind !== 'pushPull') throw new Error(`unexpected reply ${d.value.kind}`);
    const bad = this.verifyProtocol(d.value.msg.nodes);
    if (bad !== undefined) {
      this.drop('incompatible-vsn');
      this.log(`push/pull with ${addr}:${port} refused: ${bad}`);
      throw new Error(`push/pull refused: ${bad}`);
    }
    this.mergeRemote(d.value.msg);
  }

  /**
   * memberlist's verifyProtocol (spec §8): over the alive nodes of both tables, find the
   * version window [max PMin, min PMax] and [max DMin, min DMax]; every node's PCur and DCur
   * (local and remote, any state; an empty Vsn counts as 0) must lie inside it.
   * Returns why the merge must be refused, or undefined.
   */
  private verifyProtocol(remote: readonly PushNodeState[]): string | undefined {
    let maxPMin = 0;
    let minPMax = 255;
    let maxDMin = 0;
    let minDMax = 255;
    const widen = (v: Uint8Array) => {
      if (v.length === 0) return;
      maxPMin = Math.max(maxPMin, v[0] ?? 0);
      minPMax = Math.min(minPMax, v[1] ?? 0);
      maxDMin = Math.max(maxDMin, v[3] ?? 0);
      minDMax = Math.min(minDMax, v[4] ?? 0);
    };
    // Members nearly always share one Vsn value: skip repeats of the previous one.
    let last: Uint8Array | undefined;
    for (const r of remote)
      if (r.state === NODE_STATE.alive && (last === undefined || !bytesEq(last, r.vsn))) widen((last = r.vsn));
    for (const n of this.nodes)
      if (n.state === NODE_STATE.alive && (last === undefined || !bytesEq(last, n.vsn))) widen((last = n.vsn));
    const check = (name: string, v: Uint8Array): string | undefined => {
      const p = v.length > 0 ? (v[2] ?? 0) : 0;
      const d = v.length > 0 ? (v[5] ?? 0) : 0;
      if (p < maxPMin || p > minPMax) return `node '${name}' protocol version (${p}) is incompatible: [${maxPMin}, ${minPMax}]`;
      if (d < maxDMin || d > minDMax) return `node '${name}' delegate protocol version (${d}) is incompatible: [${maxDMin}, ${minDMax}]`;
      return undefined;
    };
    let passed: Uint8Array | undefined;
    for (const r of remote) {
      if (passed !== undefined && bytesEq(passed, r.vsn)) continue;
      const e = check(r.name, r.vsn);
      if (e !== undefined) return e;
      passed = r.vsn;
    }
    for (const n of this.nodes) {
      if (passed !== undefined && bytesEq(passed, n.vsn)) continue;
      const e = check(n.name, n.vsn);
      if (e !== undefined) return e;
      passed = n.vsn;
    }
    return undefined;
  }

  private mergeRemote(p: PushPull): void {
    for (const r of p.nodes) {
      switch (r.state) {
        case NODE_STATE.alive: {
          // Nearly every entry is a member we already know at this incarnation or newer, from
          // the same address and Vsn: aliveNode would return
          // without a change, so skip building its argument. Anything else takes the full path.
          const st = this.nodeMap.get(r.name);
          if (st !== undefined && r.incarnation <= st.incarnation && st.port === r.port && st.name !== this.name && bytesEq(st.vsn, r.vsn) && bytesEq(st.addrBytes, r.addr))
            break;
          this.aliveNode({ incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn }, false);
          break;
        }
        case NODE_STATE.left:
          this.deadNode({ incarnation: r.incarnation, node: r.name, from: r.name });
          break;
        default:
          this.suspectNode({ incarnation: r.incarnation, node: r.name, from: this.name });
      }
    }
    const us = p.userState;
    if (us.length === 0) return;
    if (us[0] === WEFT_MAGIC) {
      try {
        this.opts.mergeRemoteState?.(us.slice(1), p.join);
      } catch (e) {
        this.log(`mergeRemoteState threw: ${String(e)}`);
      }
    } else this.noteSerf(us);
  }

  private noteSerf(payload: Uint8Array): void {
    const lt = serfLTime(payload);
    if (lt !== undefined && lt > this.serfClock) this.serfClock = lt;
  }

  // ------------------------------------------------------------------------------------
  // inbound

  private onPacket(data: Uint8Array, fromAddr: string, fromPort: number): void {
    if (!this.running) return;
    this.counters.packetsIn++;
    this.counters.bytesIn += data.length;
    const o = openPacket(data, this.ring.enabled ? this.ring : undefined);
    if (!o.ok) return this.drop('decrypt');
    for (const e of o.value.errors) this.drop(e.startsWith('crc') ? 'crc' : 'malformed');
    // memberlist applies queued alive/suspect/dead LIFO; we apply in order (both valid).
    for (const m of o.value.messages) {
      this.counters.messagesIn++;
      try {
        this.handle(m, fromAddr, fromPort);
      } catch (e) {
        this.drop('handler-error');
        this.log(`handler error: ${String(e)}`);
      }
    }
  }

  private handle(m: Message, fromAddr: string, fromPort: number): void {
    this.counters.received[m.kind] = (this.counters.received[m.kind] ?? 0) + 1;
    switch (m.kind) {
      case 'ping':
        return this.handlePing(m.msg, fromAddr, fromPort);
      case 'indirectPing':
        return this.handleIndirect(m.msg, fromAddr, fromPort);
      case 'ack':
        this.ackHandlers.get(m.msg.seqNo)?.ack();
        return;
      case 'nack':
        this.ackHandlers.get(m.msg.seqNo)?.nack();
        return;
      case 'alive':
        return this.aliveNode(m.msg, false);
      case 'suspect':
        return this.suspectNode(m.msg);
      case 'dead':
        return this.deadNode(m.msg);
      case 'user':
        return this.handleUser(m.payload, false);
      default:
        return this.drop('unknown-type');
    }
  }

  private replyAddr(sa: Uint8Array | undefined, sp: number | undefined, fromAddr: string, fromPort: number) {
    if (sa !== undefined && sa.length > 0 && sp !== undefined && sp > 0) {
      const a = bytesToIp(sa);
      if (a !== '') return { addr: a, port: sp };
    }
    return { addr: fromAddr, port: fromPort };
  }

  private handlePing(p: Ping, fromAddr: string, fromPort: number): void {
    if (p.node !== '' && p.node !== this.name) return this.drop('ping-wrong-node');
    const to = this.replyAddr(p.sourceAddr, p.sourcePort, fromAddr, fromPort);
    this.sendTo(to, [encodeAck({ seqNo: p.seqNo, payload: new Uint8Array(0) })]);
  }

  private handleIndirect(r: IndirectPing, fromAddr: string, fromPort: number): void {
    const to = this.replyAddr(r.sourceAddr, r.sourcePort, fromAddr, fromPort);
    const targetAddr = bytesToIp(r.target);
    if (targetAddr === '') return this.drop('bad-addr');
    const seq = this.nextSeq();
    this.counters.relays++;
    let timer: unknown;
    this.ackHandlers.set(seq, {
      ack: () => {
        this.clock.clearTimeout(timer);
        this.ackHandlers.delete(seq);
        this.sendTo(to, [encodeAck({ seqNo: r.seqNo, payload: new Uint8Array(0) })]);
      },
      nack: () => {},
    });
    timer = this.clock.setTimeout(() => {
      if (!this.ackHandlers.delete(seq)) return;
      if (r.nack && this.running) {
        this.counters.nacksSent++;
        this.sendTo(to, [encodeNack({ seqNo: r.seqNo })]);
      }
    }, this.config.probeTimeout);
    const ping = encodePing({ seqNo: seq, node: r.node, sourceAddr: this.addrBytes, sourcePort: this.port, sourceNode: this.name });
    this.sendTo({ addr: targetAddr, port: r.port }, [ping]);
  }

  private handleUser(payload: Uint8Array, viaStream: boolean): void {
    if (payload.length === 0) return;
    if (payload[0] !== WEFT_MAGIC) {
      this.noteSerf(payload);
      return;
    }
    if (payload.length < 3) return this.drop('malformed-user');
    const kind = payload[1];
    const nl = payload[2] as number;
    const extra = kind === ENV_BROADCAST ? 4 : 0;
    if (payload.length < 3 + nl + extra) return this.drop('malformed-user');
    const from = new TextDecoder().decode(payload.subarray(3, 3 + nl));
    if (kind === ENV_BROADCAST) {
      if (!this.markSeen(payload)) return;
      if (!viaStream) this.queue.queue({ key: undefined, msg: encodeUser(payload), weftOnly: true });
    } else if (kind !== ENV_DIRECT) return this.drop('malformed-user');
    const msg: UserMessage = { from, payload: payload.slice(3 + nl + extra), broadcast: kind === ENV_BROADCAST };
    for (const l of this.userListeners) {
      try {
        l(msg);
      } catch (e) {
        this.log(`user listener threw: ${String(e)}`);
      }
    }
  }

  private async onStream(data: Uint8Array): Promise<Uint8Array | undefined> {
    if (!this.running) return undefined;
    this.counters.streamsIn++;
    this.counters.bytesIn += data.length;
    const keyring = this.ring.enabled ? this.ring : undefined;
    const d = decodeStream(data, keyring);
    if (!d.ok) {
      this.drop('bad-stream');
      this.log(`bad stream: ${d.error}`);
      return encodeStream(encodeErr(d.error), { compress: false, keyring });
    }
    const m = d.value;
    switch (m.kind) {
      case 'pushPull': {
        const remoteWeft = m.msg.userState[0] === WEFT_MAGIC;
        const reply = encodeStream(this.localPushPull(m.msg.join, remoteWeft), this.streamOpts());
        // Like memberlist, our state goes back even when we refuse to merge theirs.
        const bad = this.verifyProtocol(m.msg.nodes);
        if (bad !== undefined) {
          this.drop('incompatible-vsn');
          this.log(`push/pull merge refused: ${bad}`);
        } else this.mergeRemote(m.msg);
        return reply;
      }
      case 'ping':
        if (m.msg.node !== '' && m.msg.node !== this.name) return undefined;
        return encodeStream(encodeAck({ seqNo: m.msg.seqNo, payload: new Uint8Array(0) }), this.streamOpts());
      case 'user':
        this.handleUser(m.payload, true);
        return undefined;
      default:
        this.drop('unexpected-stream');
        return undefined;
    }
  }
}

export function suspicionTimeout(mult: number, n: number, interval: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor((mult * Math.floor(scale * 1000) * interval) / 1000);
}

// Encoded push/pull node states, one slot per address buffer: records that share the
// address, meta and vsn buffers (learned from the same decoded message, or seeded from the
// same Alive) and agree on name, port, incarnation and state share the encoded bytes
// (identical inputs → identical bytes; helps large simulations, harmless otherwise).
interface EncodedState {
  readonly name: string;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly vsn: Uint8Array;
  readonly incarnation: number;
  readonly state: number;
  readonly bytes: Uint8Array;
}
const stateCache = new WeakMap<Uint8Array, EncodedState>();

// Our encoding of a (read-only) decoded alive/suspect/dead message, per message object:
// the decoder shares one object per distinct message (see decodeMessage), so a broadcast
// that every member re-gossips is encoded once rather than once per member.
const encodedMsgs = new WeakMap<object, Uint8Array>();
function encodedOnce<T extends object>(m: T, enc: (m: T) => Uint8Array): Uint8Array {
  let b = encodedMsgs.get(m);
  if (b === undefined) {
    b = enc(m);
    encodedMsgs.set(m, b);
  }
  return b;
}

// Address text and `addr:port` keys per address buffer: records learned from the same
// decoded message or seeded from the same Alive share one string (large simulations keep
// N² records, so per-record strings would dominate memory).
const ipCache = new WeakMap<Uint8Array, string>();
function ipOf(b: Uint8Array): string {
  let s = ipCache.get(b);
  if (s === undefined) {
    s = bytesToIp(b);
    ipCache.set(b, s);
  }
  return s;
}
const addrKeyCache = new WeakMap<Uint8Array, { port: number; key: string }>();
function addrKeyOf(b: Uint8Array, ip: string, port: number): string {
  const c = addrKeyCache.get(b);
  if (c !== undefined && c.port === port) return c.key;
  const key = ip + ':' + port;
  addrKeyCache.set(b, { port, key });
  return key;
}

// Decoded tags per meta buffer (the simulator and seeding share buffers between nodes).
const tagCache = new WeakMap<Uint8Array, Record<string, string>>();
function tagsOf(meta: Uint8Array): Record<string, string> {
  let t = tagCache.get(meta);
  if (t === undefined) {
    t = decodeTags(meta);
    tagCache.set(meta, t);
  }
  return t;
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

