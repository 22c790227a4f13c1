/** Helpers to build simulated clusters of Membership nodes. */
import { Membership } from '../swim/membership.ts';
import type { MembershipOptions } from '../swim/types.ts';
import { seededRandom, type GossipConfig } from '../swim/types.ts';
import { SimClock } from './clock.ts';
import { SimNetwork, type SimNetworkOptions } from './network.ts';

export interface SimClusterOptions extends SimNetworkOptions {
  readonly n: number;
  readonly seed?: number;
  readonly config?: Partial<GossipConfig>;
  /** 'join': every node joins node 0 via push/pull (staggered); 'seeded': start converged. */
  readonly bootstrap?: 'join' | 'seeded';
  /** Spread of join times in ms (join mode). */
  readonly joinSpread?: number;
  readonly extra?: (i: number) => Partial<MembershipOptions>;
}

export interface SimCluster {
  readonly clock: SimClock;
  readonly net: SimNetwork;
  readonly nodes: Membership[];
  addrOf(i: number): string;
  /** Crash node i: it stops sending/receiving, no leave. */
  crash(i: number): void;
}

export const simAddr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export async function createSimCluster(o: SimClusterOptions): Promise<SimCluster> {
  const random = seededRandom(o.seed ?? 1);
  const clock = new SimClock();
  const net = new SimNetwork(clock, random, o);
  const nodes: Membership[] = [];
  for (let i = 0; i < o.n; i++) {
    const addr = simAddr(i);
    const m = new Membership({
      name: `node-${i}`,
      bindAddr: addr,
      bindPort: 7946,
      meta: { role: 'sim', i: String(i) },
      transport: net.transport(addr, 7946),
      clock,
      random,
      config: { enableCompression: false, ...(o.config ?? {}) },
      streamAlloc: net.streams.alloc,
      ...(o.extra?.(i) ?? {}),
    });
    nodes.push(m);
    await m.start();
  }
  if ((o.bootstrap ?? 'join') === 'seeded') {
    const alives = nodes.map((m) => m.selfAlive());
    for (const m of nodes) m.seedMembers(alives);
  } else {
    const spread = o.joinSpread ?? 5000;
    for (let i = 1; i < o.n; i++) {
      const m = nodes[i] as Membership;
      clock.setTimeout(() => {
        void m.join([`${simAddr(0)}:7946`]);
      }, random() * spread);
    }
  }
  return {
    clock,
    net,
    nodes,
    addrOf: simAddr,
    crash(i) {
      net.setUp(simAddr(i), 7946, false);
    },
  };
}
