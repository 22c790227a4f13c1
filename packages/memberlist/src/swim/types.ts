/** Abstractions the membership state machine runs on (real sockets or the simulator). */

export type PacketHandler = (data: Uint8Array, fromAddr: string, fromPort: number) => void;
/** Handle one inbound stream message; resolve with the reply (or undefined for none). */
/** `from` is the peer's `ip:port` when the transport knows it. */
export type StreamHandler = (data: Uint8Array, from?: string) => Promise<Uint8Array | undefined>;

export interface Transport {
  /** Begin receiving; resolves with the actually bound address and port. */
  start(onPacket: PacketHandler, onStream: StreamHandler): Promise<{ addr: string; port: number }>;
  /** Fire-and-forget datagram. Must never throw. */
  sendPacket(addr: string, port: number, data: Uint8Array): void;
  /**
   * Open a stream, send one complete message and, if `expectReply`, read one complete
   * message back. Rejects on timeout / connection error.
   */
  request(addr: string, port: number, data: Uint8Array, timeoutMs: number, expectReply: boolean): Promise<Uint8Array | undefined>;
  /** Abrupt close of all sockets. */
  shutdown(): Promise<void>;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Uniform random number in [0, 1). */
export type RandomSource = () => number;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    if (typeof t === 'object' && t !== null && 'unref' in t) (t as { unref(): void }).unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** memberlist 0.2.2 LAN defaults (spec §13) plus Weft additions. */
export interface GossipConfig {
  readonly probeInterval: number;
  readonly probeTimeout: number;
  readonly indirectChecks: number;
  readonly suspicionMult: number;
  readonly suspicionMaxTimeoutMult: number;
  readonly awarenessMaxMultiplier: number;
  readonly retransmitMult: number;
  readonly gossipInterval: number;
  readonly gossipNodes: number;
  readonly gossipToTheDeadTime: number;
  readonly pushPullInterval: number;
  readonly tcpTimeout: number;
  readonly udpBufferSize: number;
  readonly enableCompression: boolean;
  /** TCP fallback ping when UDP probing fails (peer PMax ≥ 3). */
  readonly tcpPings: boolean;
  /** Send serf's leave intent before the dead message so serf shows `left`. */
  readonly serfLeaveIntent: boolean;
  /** Delay between the serf leave intent and the dead broadcast. */
  readonly leavePropagateDelay: number;
  /** Protocol version triple [min,max,cur] + delegate triple. */
  readonly vsn: readonly [number, number, number, number, number, number];
}

export const LAN_DEFAULTS: GossipConfig = {
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  retransmitMult: 4,
  gossipInterval: 200,
  gossipNodes: 3,
  gossipToTheDeadTime: 30_000,
  pushPullInterval: 30_000,
  tcpTimeout: 10_000,
  udpBufferSize: 1400,
  enableCompression: true,
  tcpPings: true,
  serfLeaveIntent: true,
  leavePropagateDelay: 1000,
  vsn: [1, 5, 2, 2, 5, 4],
};

export const LOCAL_DEFAULTS: GossipConfig = {
  ...LAN_DEFAULTS,
  probeTimeout: 200,
  indirectChecks: 1,
  suspicionMult: 3,
  retransmitMult: 2,
  gossipInterval: 100,
  gossipToTheDeadTime: 15_000,
  pushPullInterval: 15_000,
  tcpTimeout: 1000,
};

/** Seeded PRNG (mulberry32) for deterministic simulations. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------
// The membership API's types (re-exported by mod.ts)

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

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
  /**
   * Called for each inbound datagram or stream refused for lacking a valid key (encryption on):
   * `from` is the sender's `ip:port` (or `reply from ip:port` for the answer to our own stream),
   * `reason` what was wrong. memberlist logs these as errors; the caller decides how loud.
   */
  readonly onRefused?: (kind: 'packet' | 'stream', from: string, reason: string) => void;
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
  /**
   * Inbound traffic refused for lacking a valid key while encryption is on (memberlist's
   * GossipVerifyIncoming): datagrams, and TCP streams (requests and push/pull replies) that are
   * plaintext or that no installed key opens. Also counted in `drops` (`decrypt`, `bad-stream`).
   */
  refused: { packets: number; streams: number };
  /** Probes started (direct ping), and those that ended without an ack (the target became suspect). */
  probes: number;
  probeFailures: number;
  /** Members this node marked suspect (its own probe, or a peer's accusation it accepted). */
  suspicions: number;
  /** Push/pull state exchanges this node started, and those that failed. */
  pushPulls: number;
  pushPullFailures: number;
}

