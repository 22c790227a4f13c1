/** Outgoing datagrams (memberlist net.go sendMsg/rawSendMsg): piggybacked broadcasts, compound, CRC, encryption. */
import { ENCRYPT_OVERHEAD } from '../wire/crypto.ts';
import { encodePacket } from '../wire/packet.ts';
import type { Core } from './core.ts';
import type { NodeRec } from './record.ts';

export function rawSend(c: Core, addr: string, port: number, bytes: Uint8Array): void {
  c.counters.packetsOut++;
  c.counters.bytesOut += bytes.length;
  c.transport.sendPacket(addr, port, bytes);
}

/** Send messages to a node/address, piggybacking queued broadcasts (memberlist sendMsg). */
export function sendTo(c: Core, target: { addr: string; port: number }, msgs: Uint8Array[], piggyback = true): void {
  const rec = 'name' in target ? (target as NodeRec) : c.findByAddr(target.addr, target.port);
  let parts = msgs;
  if (piggyback) {
    let used = 2;
    for (const m of msgs) used += 2 + m.length;
    const avail = c.config.udpBufferSize - used - (c.ring.enabled ? ENCRYPT_OVERHEAD : 0) - 5;
    const extra = c.queue.get(2, avail, c.transmitLimit(), rec?.weft === true && rec.name !== c.name, 255 - msgs.length);
    if (extra.length > 0) parts = [...msgs, ...extra];
  }
  const crc = rec !== undefined && (rec.vsn[1] ?? 0) >= 5;
  const pkt = encodePacket(parts, {
    compress: c.config.enableCompression && parts.length > 1,
    crc,
    keyring: c.ring.enabled ? c.ring : undefined,
  });
  rawSend(c, target.addr, target.port, pkt);
}
