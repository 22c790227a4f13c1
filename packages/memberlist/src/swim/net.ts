/**
 * Inbound traffic (memberlist net.go): datagrams are opened (decrypt, CRC, compress,
 * compound) and each message dispatched; streams answer push/pull, TCP pings and user data.
 */
import { encodeAck, encodeErr, encodeNack, encodePing } from '../wire/codec.ts';
import { openPacket } from '../wire/packet.ts';
import { decodeStream, encodeStream, isKeyError } from '../wire/stream.ts';
import type { IndirectPing, Message, Ping } from '../wire/types.ts';
import { bytesToIp } from './addr.ts';
import type { Core } from './core.ts';
import { localPushPull, mergeRemote, verifyProtocol } from './pushpull.ts';
import { sendTo } from './send.ts';
import { aliveNode, deadNode, suspectNode } from './state.ts';
import { handleUser, WEFT_MAGIC } from './user.ts';

export function onPacket(c: Core, data: Uint8Array, fromAddr: string, fromPort: number): void {
  if (!c.running) return;
  c.counters.packetsIn++;
  c.counters.bytesIn += data.length;
  const o = openPacket(data, c.ring.enabled ? c.ring : undefined);
  if (!o.ok) {
    // Only decryption fails here: plaintext, or sealed with a key we do not hold.
    c.refuse('packet', `${fromAddr}:${fromPort}`, o.error);
    return c.drop('decrypt');
  }
  for (const e of o.value.errors) c.drop(e.startsWith('crc') ? 'crc' : 'malformed');
  // memberlist applies queued alive/suspect/dead LIFO; we apply in order (both valid).
  for (const m of o.value.messages) {
    c.counters.messagesIn++;
    try {
      handle(c, m, fromAddr, fromPort);
    } catch (e) {
      c.drop('handler-error');
      c.log(`handler error: ${String(e)}`);
    }
  }
}

export function handle(c: Core, m: Message, fromAddr: string, fromPort: number): void {
  c.counters.received[m.kind] = (c.counters.received[m.kind] ?? 0) + 1;
  switch (m.kind) {
    case 'ping':
      return handlePing(c, m.msg, fromAddr, fromPort);
    case 'indirectPing':
      return handleIndirect(c, m.msg, fromAddr, fromPort);
    case 'ack':
      c.ackHandlers.get(m.msg.seqNo)?.ack();
      return;
    case 'nack':
      c.ackHandlers.get(m.msg.seqNo)?.nack();
      return;
    case 'alive':
      return aliveNode(c, m.msg, false);
    case 'suspect':
      return suspectNode(c, m.msg);
    case 'dead':
      return deadNode(c, m.msg);
    case 'user':
      return handleUser(c, m.payload, false);
    default:
      return c.drop('unknown-type');
  }
}

export function replyAddr(c: Core, sa: Uint8Array | undefined, sp: number | undefined, fromAddr: string, fromPort: number) {
  if (sa !== undefined && sa.length > 0 && sp !== undefined && sp > 0) {
    const a = bytesToIp(sa);
    if (a !== '') return { addr: a, port: sp };
  }
  return { addr: fromAddr, port: fromPort };
}

export function handlePing(c: Core, p: Ping, fromAddr: string, fromPort: number): void {
  if (p.node !== '' && p.node !== c.name) return c.drop('ping-wrong-node');
  const to = replyAddr(c, p.sourceAddr, p.sourcePort, fromAddr, fromPort);
  sendTo(c, to, [encodeAck({ seqNo: p.seqNo, payload: new Uint8Array(0) })]);
}

export function handleIndirect(c: Core, r: IndirectPing, fromAddr: string, fromPort: number): void {
  const to = replyAddr(c, r.sourceAddr, r.sourcePort, fromAddr, fromPort);
  const targetAddr = bytesToIp(r.target);
  if (targetAddr === '') return c.drop('bad-addr');
  const seq = c.nextSeq();
  c.counters.relays++;
  let timer: unknown;
  c.ackHandlers.set(seq, {
    ack: () => {
      c.clock.clearTimeout(timer);
      c.ackHandlers.delete(seq);
      sendTo(c, to, [encodeAck({ seqNo: r.seqNo, payload: new Uint8Array(0) })]);
    },
    nack: () => {},
  });
  timer = c.clock.setTimeout(() => {
    if (!c.ackHandlers.delete(seq)) return;
    if (r.nack && c.running) {
      c.counters.nacksSent++;
      sendTo(c, to, [encodeNack({ seqNo: r.seqNo })]);
    }
  }, c.config.probeTimeout);
  const ping = encodePing({ seqNo: seq, node: r.node, sourceAddr: c.addrBytes, sourcePort: c.port, sourceNode: c.name });
  sendTo(c, { addr: targetAddr, port: r.port }, [ping]);
}

export async function onStream(c: Core, data: Uint8Array, from = '?'): Promise<Uint8Array | undefined> {
  if (!c.running) return undefined;
  c.counters.streamsIn++;
  c.counters.bytesIn += data.length;
  const keyring = c.ring.enabled ? c.ring : undefined;
  const d = decodeStream(data, keyring);
  if (!d.ok) {
    if (isKeyError(d.error)) c.refuse('stream', from, d.error);
    c.drop('bad-stream');
    c.log(`bad stream from ${from}: ${d.error}`);
    return encodeStream(encodeErr(d.error), { compress: false, keyring });
  }
  const m = d.value;
  switch (m.kind) {
    case 'pushPull': {
      const remoteWeft = m.msg.userState[0] === WEFT_MAGIC;
      const reply = encodeStream(localPushPull(c, m.msg.join, remoteWeft), c.streamOpts());
      // Like memberlist, our state goes back even when we refuse to merge theirs.
      const bad = verifyProtocol(c, m.msg.nodes);
      if (bad !== undefined) {
        c.drop('incompatible-vsn');
        c.log(`push/pull merge refused: ${bad}`);
      } else mergeRemote(c, m.msg);
      return reply;
    }
    case 'ping':
      if (m.msg.node !== '' && m.msg.node !== c.name) return undefined;
      return encodeStream(encodeAck({ seqNo: m.msg.seqNo, payload: new Uint8Array(0) }), c.streamOpts());
    case 'user':
      handleUser(c, m.payload, true);
      return undefined;
    default:
      c.drop('unexpected-stream');
      return undefined;
  }
}
