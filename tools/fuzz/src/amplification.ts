/** One decompression-amplified gossip UDP packet, timed (CPU cost per attacker datagram). */
import { amplificationPacket, decodePacket } from './harnesses/gossip.ts';

export async function amplification(): Promise<{ describe: string; bytes: number; ms: number; messages: number; errors: number }> {
  const { packet, describe } = amplificationPacket();
  const t0 = performance.now();
  const r = decodePacket(packet);
  const ms = Math.round(performance.now() - t0);
  return { describe, bytes: packet.length, ms, messages: r.messages.length, errors: r.errors.length };
}
