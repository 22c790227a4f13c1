/**
 * SWIM + Lifeguard membership compatible with hashicorp/memberlist 0.2.2 (spec §8–§13): the
 * public face of one instance (lifecycle, queries, tags, keys, user data). The protocol is
 * split as memberlist's files are: `state.ts` (alive/suspect/dead), `suspicion.ts` and
 * `awareness.ts` (Lifeguard), `probe.ts`, `gossip.ts`, `pushpull.ts`, `net.ts` (inbound),
 * `send.ts`, `user.ts`, over the shared state in `core.ts`. Runs on an abstract Transport and
 * Clock so the same code drives real sockets and the in-process simulator. The hot path
 * (probe, gossip, packet handling) is callback-based; only stream operations (push/pull,
 * TCP ping, join, leave) use promises.
 */
import { encodeDead } from '../wire/codec.ts';
import { validKey } from '../wire/crypto.ts';
import { encodeSerfLeaveIntent, encodeTags } from '../wire/serf.ts';
import { NODE_STATE, type Alive } from '../wire/types.ts';
import { ipToBytes, parseSeed } from './addr.ts';
import { Core, META_MAX } from './core.ts';
import { gossipTick } from './gossip.ts';
import { onPacket, onStream } from './net.ts';
import { probeTick } from './probe.ts';
import { pushPull, schedulePushPull } from './pushpull.ts';
import { aliveMsg, bytesEq, toMember, type NodeRec } from './record.ts';
import { sendTo } from './send.ts';
import { deadNode, aliveNode, queueAlive } from './state.ts';
import type { Counters, GossipConfig, Member, MembershipEvent, MembershipOptions, UserMessage } from './types.ts';
import { broadcastUser, sendUser } from './user.ts';

export { WEFT_MAGIC } from './user.ts';
export { suspicionTimeout } from './suspicion.ts';

export class Membership {
  readonly name: string;
  readonly config: GossipConfig;
  readonly counters: Counters;
  private readonly c: Core;

  /** Keyring view matching the kernel's `Membership.keyring` contract. */
  readonly keyring = {
    install: (key: Uint8Array): void => this.installKey(key),
    use: (key: Uint8Array): void => this.useKey(key),
    remove: (key: Uint8Array): void => this.removeKey(key),
    list: (): readonly Uint8Array[] => this.keys(),
  };

  constructor(opts: MembershipOptions) {
    this.c = new Core(opts);
    this.name = this.c.name;
    this.config = this.c.config;
    this.counters = this.c.counters;
  }

  async start(): Promise<void> {
    if (this.c.running) return;
    const bound = await this.c.transport.start(
      (d, a, p) => onPacket(this.c, d, a, p),
      (d, from) => onStream(this.c, d, from),
    );
    this.c.addr = this.c.opts.advertiseAddr ?? bound.addr;
    this.c.port = this.c.opts.advertisePort ?? bound.port;
    const ab = ipToBytes(this.c.addr);
    if (ab === undefined) throw new Error(`cannot advertise address ${this.c.addr}`);
    this.c.addrBytes = ab;
    this.c.running = true;
    // our own record (memberlist keeps itself in the node table), incarnation 1
    const self: NodeRec = {
      name: this.name,
      addr: this.c.addr,
      addrBytes: this.c.addrBytes,
      port: this.c.port,
      meta: this.c.metaBytes,
      tags: this.c.tags,
      weft: true,
      vsn: Uint8Array.from(this.config.vsn),
      incarnation: 1,
      state: NODE_STATE.alive,
      stateChange: NaN, // set below (double field from the start, see aliveNode)
      addrKey: `${this.c.addr}:${this.c.port}`,
      ppBytes: undefined,
      ppInc: 0,
      ppState: 0,
    };
    self.stateChange = this.c.clock.now();
    this.c.nodeMap.set(this.name, self);
    this.c.nodes.push(self);
    queueAlive(this.c, self);
    this.c.schedule(() => probeTick(this.c), this.config.probeInterval * this.c.random());
    this.c.schedule(() => gossipTick(this.c), this.config.gossipInterval * this.c.random());
    // memberlist's pushPullTrigger: a random stagger in [0, PushPullInterval), then the first
    // push/pull one (size-scaled) interval later, and every scaled interval after that.
    this.c.schedule(() => schedulePushPull(this.c), this.config.pushPullInterval * this.c.random());
  }

  /** Join through seeds (`host`, `host:port`, `name/host:port`). Resolves with how many answered. */
  async join(seeds: readonly string[]): Promise<number> {
    let n = 0;
    for (const s of seeds) {
      const seed = parseSeed(s, this.c.port || 7946);
      if (seed === undefined) {
        this.c.log(`join: bad seed ${s}`);
        continue;
      }
      try {
        await pushPull(this.c, seed.addr, seed.port, true, false);
        n++;
        // If the seed turned out to be a Weft node, swap user state with it as well.
        const rec = this.c.findByAddr(seed.addr, seed.port);
        if (rec !== undefined && rec.weft && (this.c.opts.localState !== undefined || this.c.opts.mergeRemoteState !== undefined))
          await pushPull(this.c, seed.addr, seed.port, true, true).catch((e: unknown) => this.c.log(`join user state: ${String(e)}`));
      } catch (e) {
        this.c.log(`join ${s} failed: ${String(e)}`);
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
    if (!this.c.running || this.c.leaving) return;
    const self = this.c.nodeMap.get(this.name);
    if (self === undefined) return;
    const others = this.c.anyAliveOthers();
    if (this.config.serfLeaveIntent && others) {
      const intent = encodeSerfLeaveIntent(this.c.serfClock + 1, this.name);
      // Gossip alone may spend its few transmissions on recently-dead nodes, so also
      // tell every live member directly (one datagram each).
      for (const n of this.c.nodes) if (n.name !== this.name && n.state <= NODE_STATE.suspect) sendTo(this.c, n, [intent], false);
      this.c.queue.queue({ key: 'serf-leave-intent', msg: intent, weftOnly: false });
      await this.c.sleep(this.config.leavePropagateDelay);
    }
    this.c.leaving = true;
    let done: () => void = () => {};
    const sent = new Promise<void>((r) => (done = r));
    const dead = { incarnation: self.incarnation, node: this.name, from: this.name };
    deadNode(this.c, dead, done);
    const deadMsg = encodeDead(dead);
    for (const n of this.c.nodes) if (n.name !== this.name && n.state <= NODE_STATE.suspect) sendTo(this.c, n, [deadMsg], false);
    if (others) await Promise.race([sent, this.c.sleep(timeoutMs)]);
    for (const t of this.c.timers) this.c.clock.clearTimeout(t);
    this.c.timers.clear();
  }

  /** Abrupt stop: no leave message, sockets closed. */
  async shutdown(): Promise<void> {
    this.c.running = false;
    for (const t of this.c.timers) this.c.clock.clearTimeout(t);
    this.c.timers.clear();
    for (const s of this.c.suspicions.values()) s.stop();
    this.c.suspicions.clear();
    this.c.ackHandlers.clear();
    this.c.queue.reset();
    await this.c.transport.shutdown();
  }

  members(): Member[] {
    return this.c.nodes.map((n) => toMember(n));
  }

  /** Alias of localNode() (kernel `Membership.self()`). */
  self(): Member {
    return this.localNode();
  }

  localNode(): Member {
    const s = this.c.nodeMap.get(this.name);
    if (s === undefined) throw new Error('not started');
    return toMember(s);
  }

  /** Number of members believed alive or suspect (incl. self). */
  numAlive(): number {
    let n = 0;
    for (const x of this.c.nodes) if (x.state <= NODE_STATE.suspect) n++;
    return n;
  }

  healthScore(): number {
    return this.c.awareness.score;
  }

  setMeta(meta: Readonly<Record<string, string>>): void {
    const tags = { ...meta, weft: '1' };
    const bytes = encodeTags(tags);
    if (bytes.length > META_MAX) throw new Error(`node meta exceeds ${META_MAX} bytes`);
    this.c.tags = tags;
    this.c.metaBytes = bytes;
    const self = this.c.nodeMap.get(this.name);
    if (self === undefined) return;
    self.meta = bytes;
    self.tags = tags;
    self.ppBytes = undefined;
    self.incarnation++;
    queueAlive(this.c, self);
  }

  onEvent(fn: (e: MembershipEvent) => void): () => void {
    this.c.listeners.add(fn);
    return () => this.c.listeners.delete(fn);
  }

  onUser(fn: (m: UserMessage) => void): () => void {
    this.c.userListeners.add(fn);
    return () => this.c.userListeners.delete(fn);
  }

  installKey(key: Uint8Array): void {
    this.c.ring.install(key);
  }

  useKey(key: Uint8Array): void {
    this.c.ring.use(key);
  }

  removeKey(key: Uint8Array): void {
    this.c.ring.remove(key);
  }

  keys(): readonly Uint8Array[] {
    return this.c.ring.all();
  }

  /**
   * Makes the keyring exactly `keys` (primary first) in the order serf's `keys -install`,
   * `-use`, `-remove` gives a cluster, so no peer that holds either ring is ever refused:
   * every new key is installed for receive first, then the primary switches, then keys not in
   * `keys` go. On an unencrypted instance this turns encryption on. Returns how many keys were
   * installed and removed.
   */
  applyKeys(keys: readonly Uint8Array[]): { installed: number; removed: number } {
    const [primary] = keys;
    if (primary === undefined) throw new Error('applyKeys: at least one key (the primary) is required');
    for (const k of keys) if (!validKey(k)) throw new Error(`applyKeys: a key of ${k.length} bytes; keys are 16, 24 or 32 bytes (AES-128/192/256)`);
    const before = this.c.ring.all().length;
    for (const k of keys) this.c.ring.install(k);
    const installed = this.c.ring.all().length - before;
    this.c.ring.use(primary);
    const keep = (k: Uint8Array) => keys.some((x) => bytesEq(x, k));
    const stale = this.c.ring.all().filter((k) => !keep(k));
    for (const k of stale) this.c.ring.remove(k);
    return { installed, removed: stale.length };
  }

  /** Whether traffic is encrypted (a key is installed), and how many keys the ring holds. */
  encryption(): { enabled: boolean; keys: number } {
    return { enabled: this.c.ring.enabled, keys: this.c.ring.all().length };
  }

  /** Direct user message to a Weft member (UDP if it fits, else TCP). */
  sendUser(nodeName: string, payload: Uint8Array): Promise<void> {
    return sendUser(this.c, nodeName, payload);
  }


  /** Epidemic broadcast to all Weft members (re-gossiped by receivers, deduplicated). */
  broadcastUser(payload: Uint8Array): void {
    broadcastUser(this.c, payload);
  }


  /**
   * Testing/simulation aid: install members as if learned by push/pull, without queueing
   * re-gossip (lets the simulator start large clusters already converged).
   */
  seedMembers(alives: readonly Alive[]): void {
    this.c.seeding = true;
    for (const a of alives) if (a.node !== this.name) aliveNode(this.c, a, false);
    this.c.seeding = false;
    this.c.queue.reset();
    queueAlive(this.c, this.c.nodeMap.get(this.name) as NodeRec);
  }

  /** Alive message describing this node (for seeding simulations). */
  selfAlive(): Alive {
    return aliveMsg(this.c.nodeMap.get(this.name) as NodeRec);
  }

  /** Pending broadcasts (diagnostics). */
  queuedBroadcasts(): number {
    return this.c.queue.length;
  }
}
