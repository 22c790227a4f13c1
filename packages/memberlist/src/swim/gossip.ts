/** The gossip loop (memberlist state.go gossip): queued broadcasts to `gossipNodes` random members per interval. */
import { ENCRYPT_OVERHEAD } from '../wire/crypto.ts';
import { encodePacket } from '../wire/packet.ts';
import { NODE_STATE } from '../wire/types.ts';
import type { Core } from './core.ts';
import { rawSend } from './send.ts';

export function gossipTick(c: Core): void {
  if (!c.running) return;
  c.schedule(() => gossipTick(c), c.config.gossipInterval);
  if (c.queue.length === 0) return;
  const now = c.clock.now();
  const targets = c.kRandom(
    c.config.gossipNodes,
    (n) =>
      n.name !== c.name &&
      (n.state <= NODE_STATE.suspect || now - n.stateChange < c.config.gossipToTheDeadTime),
  );
  const avail = c.config.udpBufferSize - 2 - (c.ring.enabled ? ENCRYPT_OVERHEAD : 0) - 5;
  for (const t of targets) {
    const msgs = c.queue.get(2, avail, c.transmitLimit(), t.weft);
    if (msgs.length === 0) continue;
    const pkt = encodePacket(msgs, {
      compress: c.config.enableCompression && msgs.length > 1,
      crc: (t.vsn[1] ?? 0) >= 5,
      keyring: c.ring.enabled ? c.ring : undefined,
    });
    rawSend(c, t.addr, t.port, pkt);
  }
}
