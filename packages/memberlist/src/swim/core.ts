/**
 * The state one membership instance shares between its parts (memberlist's `Memberlist`
 * struct): configuration, the node table, timers, the broadcast queue, counters, and the
 * small helpers every part uses. The protocol itself lives in functions over a Core:
 * `state.ts` (alive/suspect/dead), `probe.ts`, `gossip.ts`, `pushpull.ts`, `net.ts`
 * (inbound packets and streams), `send.ts`, `user.ts` (Weft user messages).
 * Internal: not exported by the package.
 */
import { Keyring } from '../wire/crypto.ts';
import { encodeTags } from '../wire/serf.ts';
import { NODE_STATE } from '../wire/types.ts';
import { Awareness } from './awareness.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast.ts';
import { toMember, type NodeRec } from './record.ts';
import type { Suspicion } from './suspicion.ts';
import {
  LAN_DEFAULTS,
  realClock,
  type Clock,
  type Counters,
  type GossipConfig,
  type MembershipEvent,
  type MembershipOptions,
  type RandomSource,
  type Transport,
  type UserMessage,
} from './types.ts';

/** Largest encoded tag map (serf's limit on node meta). */
export const META_MAX = 512;

/** Waiter for the ack (or nack) of one probe sequence number. */
export interface AckHandler {
  ack(): void;
  nack(): void;
}

export class Core {
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
    refused: { packets: 0, streams: 0 },
    probes: 0,
    probeFailures: 0,
    suspicions: 0,
    pushPulls: 0,
    pushPullFailures: 0,
  };
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly ring: Keyring;
  readonly opts: MembershipOptions;
  readonly nodeMap = new Map<string, NodeRec>();
  readonly addrIndex = new Map<string, NodeRec>();
  nodes: NodeRec[] = [];
  probeIndex = 0;
  readonly suspicions = new Map<string, Suspicion>();
  readonly ackHandlers = new Map<number, AckHandler>();
  readonly queue = new BroadcastQueue();
  seqNo = 0;
  readonly awareness: Awareness;
  running = false;
  leaving = false;
  timers = new Set<unknown>();
  addr = '';
  port = 0;
  addrBytes: Uint8Array = new Uint8Array(4);
  metaBytes: Uint8Array;
  tags: Record<string, string>;
  readonly listeners = new Set<(e: MembershipEvent) => void>();
  readonly userListeners = new Set<(m: UserMessage) => void>();
  serfClock = 0;
  seeding = false;
  bcastSeq = 0;
  readonly seenBroadcasts = new Map<string, number>();

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
    this.awareness = new Awareness(this.config.awarenessMaxMultiplier);
    this.bcastSeq = Math.floor(this.random() * 0x100000000) >>> 0;
    if (this.metaBytes.length > META_MAX) throw new Error(`node meta exceeds ${META_MAX} bytes`);
  }

  log(line: string): void {
    this.opts.log?.(`[${this.name}] ${line}`);
  }

  /** Inbound traffic without a valid key (encryption on): counted, and reported to `onRefused`. */
  refuse(kind: 'packet' | 'stream', from: string, reason: string): void {
    if (kind === 'packet') this.counters.refused.packets++;
    else this.counters.refused.streams++;
    this.opts.onRefused?.(kind, from, reason);
  }

  drop(reason: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }

  schedule(fn: () => void, ms: number): unknown {
    const h = this.clock.setTimeout(() => {
      this.timers.delete(h);
      fn();
    }, ms);
    this.timers.add(h);
    return h;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.clock.setTimeout(r, ms));
  }

  emit(type: MembershipEvent['type'], n: NodeRec): void {
    if (this.listeners.size === 0) return;
    const e = { type, member: toMember(n) };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log(`event listener threw: ${String(err)}`);
      }
    }
  }

  findByAddr(addr: string, port: number): NodeRec | undefined {
    const n = this.addrIndex.get(addr + ':' + port);
    return n !== undefined && n.name !== this.name ? n : undefined;
  }

  anyAliveOthers(): boolean {
    return this.nodes.some((n) => n.name !== this.name && n.state === NODE_STATE.alive);
  }

  nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  streamOpts() {
    return { compress: this.config.enableCompression, keyring: this.ring.enabled ? this.ring : undefined };
  }

  transmitLimit(): number {
    return retransmitLimit(this.config.retransmitMult, this.nodes.length);
  }

  /** Random sample of up to k nodes matching `pred` (partial Fisher–Yates over candidates). */
  kRandom(k: number, pred: (n: NodeRec) => boolean): NodeRec[] {
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
}
