/**
 * In-process simulated network: datagrams with latency and loss, streams with latency,
 * partitions and crashes. Everything runs on a SimClock; payloads are real wire bytes.
 */
import type { PacketHandler, RandomSource, StreamHandler, Transport } from '../swim/types.ts';
import type { SimClock } from './clock.ts';

export interface SimNetworkOptions {
  /** One-way latency range in ms. */
  readonly latency?: readonly [number, number];
  /** Datagram loss probability (0..1). */
  readonly loss?: number;
}

interface Endpoint {
  readonly key: string;
  onPacket?: PacketHandler;
  onStream?: StreamHandler;
  up: boolean;
  bytesOut: number;
  packetsOut: number;
}

/**
 * Buffers for large stream messages (push/pull states: N × ~100 bytes), reused once delivered.
 * Decoders copy what they keep, so a request can be reused when its handler has finished and a
 * reply once the requester's continuation has run. In a round where thousands of simulated
 * nodes each exchange a 5,000-member state, fresh buffers would allocate gigabytes of
 * ArrayBuffers within seconds, and V8 answers external allocation with full GCs of the
 * whole (multi-gigabyte) heap.
 */
export class StreamPool {
  private static readonly MIN = 16384;
  private readonly free = new Map<number, Uint8Array[]>();
  private readonly lent = new WeakSet<ArrayBuffer>();
  readonly alloc = (n: number): Uint8Array => {
    if (n < StreamPool.MIN) return new Uint8Array(n);
    let cap = StreamPool.MIN;
    while (cap < n) cap *= 2;
    const b = this.free.get(cap)?.pop();
    const buf = b ?? new Uint8Array(cap);
    this.lent.add(buf.buffer as ArrayBuffer);
    return buf.subarray(0, n);
  };
  /** Take back a buffer `alloc` lent (any view of it); anything else is ignored. */
  release(v: Uint8Array | undefined): void {
    if (v === undefined) return;
    const ab = v.buffer as ArrayBuffer;
    if (!this.lent.has(ab)) return;
    this.lent.delete(ab);
    let list = this.free.get(ab.byteLength);
    if (list === undefined) this.free.set(ab.byteLength, (list = []));
    if (list.length < 64) list.push(new Uint8Array(ab));
  }
}

export class SimNetwork {
  readonly clock: SimClock;
  readonly random: RandomSource;
  latency: readonly [number, number];
  loss: number;
  private readonly endpoints = new Map<string, Endpoint>();
  private groups = new Map<string, number>();
  packetsSent = 0;
  packetsDelivered = 0;
  /** UDP payload bytes sent. */
  bytesSent = 0;
  /** Stream (TCP) payload bytes sent, both directions. */
  streamBytes = 0;
  /** Where nodes should allocate push/pull buffers (`MembershipOptions.streamAlloc`). */
  readonly streams = new StreamPool();

  constructor(clock: SimClock, random: RandomSource, opts: SimNetworkOptions = {}) {
    this.clock = clock;
    this.random = random;
    this.latency = opts.latency ?? [1, 5];
    this.loss = opts.loss ?? 0;
  }

  private delay(): number {
    const [a, b] = this.latency;
    return a + (b - a) * this.random();
  }

  /** Stream leg delay: a lost segment costs a TCP retransmission timeout (1 s, doubling). */
  private streamDelay(): number {
    let d = this.delay();
    let rto = 1000;
    while (this.loss > 0 && this.random() < this.loss && rto < 64_000) {
      d += rto;
      rto *= 2;
    }
    return d;
  }

  /** Split into groups of addresses; traffic only flows inside a group. `[]` heals. */
  partition(groups: readonly (readonly string[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((a) => this.groups.set(a, i)));
  }

  private reachable(from: string, to: string): boolean {
    if (this.groups.size === 0) return true;
    return (this.groups.get(from) ?? -1) === (this.groups.get(to) ?? -1);
  }

  /** Crash (no more sends/receives) or revive an endpoint. */
  setUp(addr: string, port: number, up: boolean): void {
    const e = this.endpoints.get(`${addr}:${port}`);
    if (e !== undefined) e.up = up;
  }

  endpointStats(addr: string, port: number): { bytesOut: number; packetsOut: number } {
    const e = this.endpoints.get(`${addr}:${port}`);
    return { bytesOut: e?.bytesOut ?? 0, packetsOut: e?.packetsOut ?? 0 };
  }

  transport(addr: string, port: number): Transport {
    const key = `${addr}:${port}`;
    const ep: Endpoint = { key, up: true, bytesOut: 0, packetsOut: 0 };
    const net = this;
    return {
      start(onPacket, onStream) {
        ep.onPacket = onPacket;
        ep.onStream = onStream;
        ep.up = true;
        net.endpoints.set(key, ep);
        return Promise.resolve({ addr, port });
      },
      sendPacket(toAddr, toPort, data) {
        if (!ep.up) return;
        net.packetsSent++;
        net.bytesSent += data.length;
        ep.bytesOut += data.length;
        ep.packetsOut++;
        if (data.length > 65507) return;
        if (net.loss > 0 && net.random() < net.loss) return;
        if (!net.reachable(addr, toAddr)) return;
        // Delivered as is, without a copy: senders never touch a datagram after sending it,
        // and receivers only read it.
        const copy = data;
        net.clock.schedule(
          () => {
            const dst = net.endpoints.get(`${toAddr}:${toPort}`);
            if (dst === undefined || !dst.up || dst.onPacket === undefined) return;
            if (!net.reachable(addr, toAddr)) return;
            net.packetsDelivered++;
            dst.onPacket(copy, addr, port);
          },
          net.delay(),
          true,
        );
      },
      request(toAddr, toPort, data, timeoutMs, expectReply) {
        return new Promise((resolve, reject) => {
          if (!ep.up) return reject(new Error('endpoint down'));
          ep.bytesOut += data.length;
          net.streamBytes += data.length;
          let settled = false;
          const timer = net.clock.schedule(
            () => {
              if (settled) return;
              settled = true;
              reject(new Error('i/o timeout'));
            },
            timeoutMs,
            false,
          );
          const finish = (v: Uint8Array | undefined, e?: Error) => {
            if (settled) return;
            settled = true;
            net.clock.clearTimeout(timer);
            if (e !== undefined) reject(e);
            else resolve(v);
          };
          // Delivered without a copy, like datagrams: senders never touch a message after
          // sending it, and receivers only read it (pooled buffers are reused only after).
          net.clock.schedule(
            () => {
              const dst = net.endpoints.get(`${toAddr}:${toPort}`);
              if (dst === undefined || dst.onStream === undefined) return finish(undefined, new Error('connection refused'));
              if (!dst.up || !net.reachable(addr, toAddr)) return; // black hole → timeout
              dst.onStream(data, `${addr}:0`).then(
                (reply) => {
                  net.streams.release(data);
                  if (!expectReply) return finish(undefined);
                  if (reply === undefined) return finish(undefined, new Error('EOF'));
                  dst.bytesOut += reply.length;
                  net.streamBytes += reply.length;
                  net.clock.schedule(
                    () => {
                      if (!ep.up || !net.reachable(addr, toAddr)) return;
                      finish(reply);
                      // The requester decodes it in the continuation that runs right after
                      // this event; the next event may reuse it.
                      net.clock.schedule(() => net.streams.release(reply), 0, true);
                    },
                    net.streamDelay(),
                    false,
                  );
                },
                (e: unknown) => finish(undefined, e instanceof Error ? e : new Error(String(e))),
              );
            },
            net.streamDelay(),
            false,
          );
        });
      },
      shutdown() {
        ep.up = false;
        net.endpoints.delete(key);
        return Promise.resolve();
      },
    };
  }
}
