/**
 * @weft/memberlist — memberlist-compatible SWIM/Lifeguard membership for Weft.
 * Interoperates with hashicorp/serf 0.9.4 (memberlist 0.2.2) on the wire.
 */
import { Membership } from './swim/membership.ts';
import type { MembershipOptions } from './swim/types.ts';

export { Membership, WEFT_MAGIC, suspicionTimeout } from './swim/membership.ts';
export type { Counters, Member, MemberState, MembershipEvent, MembershipOptions, UserMessage } from './swim/types.ts';
export { LAN_DEFAULTS, LOCAL_DEFAULTS, realClock, seededRandom } from './swim/types.ts';
export type { Clock, GossipConfig, PacketHandler, RandomSource, StreamHandler, Transport } from './swim/types.ts';
export { SimClock } from './sim/clock.ts';
export { SimNetwork, type SimNetworkOptions } from './sim/network.ts';
export { createSimCluster, simAddr, type SimCluster, type SimClusterOptions } from './sim/cluster.ts';
export { Keyring } from './wire/crypto.ts';
export { decodeTags, encodeTags } from './wire/serf.ts';

/** Create (but do not start) a membership instance. */
export function createMembership(opts: MembershipOptions): Membership {
  return new Membership(opts);
}
export { createNodeTransport, type NodeTransport, type NodeTransportOptions } from './transport/node.ts';
