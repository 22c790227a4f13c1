/**
 * Weft user messages on memberlist's user channel: `08 ‖ 0x57 ‖ kind ‖ name len ‖ name
 * [‖ broadcast seq] ‖ payload`, sent only to members tagged `weft=1` (serf would log an
 * unknown type); direct (UDP if it fits, else TCP) or epidemic and deduplicated. serf's own
 * user messages are read only for their Lamport time (the leave intent's LTime).
 */
import { encodeUser } from '../wire/codec.ts';
import { ENCRYPT_OVERHEAD } from '../wire/crypto.ts';
import { serfLTime } from '../wire/serf.ts';
import { encodeStream, encodeStreamUser } from '../wire/stream.ts';
import type { Core } from './core.ts';
import { sendTo } from './send.ts';
import type { UserMessage } from './types.ts';

/** First byte of every Weft user payload (≥ 10 so serf would only see "unknown type"). */
export const WEFT_MAGIC = 0x57;
const ENV_DIRECT = 1;
const ENV_BROADCAST = 2;

export function envelope(c: Core, kind: number, payload: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(c.name).subarray(0, 255);
  const extra = kind === ENV_BROADCAST ? 4 : 0;
  const out = new Uint8Array(3 + name.length + extra + payload.length);
  out[0] = WEFT_MAGIC;
  out[1] = kind;
  out[2] = name.length;
  out.set(name, 3);
  if (kind === ENV_BROADCAST) {
    c.bcastSeq = (c.bcastSeq + 1) >>> 0;
    new DataView(out.buffer).setUint32(3 + name.length, c.bcastSeq);
  }
  out.set(payload, 3 + name.length + extra);
  return out;
}

export function markSeen(c: Core, env: Uint8Array): boolean {
  const nl = env[2] ?? 0;
  const key = Buffer.from(env.subarray(2, 3 + nl + 4)).toString('latin1');
  if (c.seenBroadcasts.has(key)) return false;
  const now = c.clock.now();
  c.seenBroadcasts.set(key, now);
  if (c.seenBroadcasts.size > 4096) {
    for (const [k, t] of c.seenBroadcasts) if (now - t > 120_000 || c.seenBroadcasts.size > 8192) c.seenBroadcasts.delete(k);
  }
  return true;
}

export function noteSerf(c: Core, payload: Uint8Array): void {
  const lt = serfLTime(payload);
  if (lt !== undefined && lt > c.serfClock) c.serfClock = lt;
}

export function handleUser(c: Core, payload: Uint8Array, viaStream: boolean): void {
  if (payload.length === 0) return;
  if (payload[0] !== WEFT_MAGIC) {
    noteSerf(c, payload);
    return;
  }
  if (payload.length < 3) return c.drop('malformed-user');
  const kind = payload[1];
  const nl = payload[2] as number;
  const extra = kind === ENV_BROADCAST ? 4 : 0;
  if (payload.length < 3 + nl + extra) return c.drop('malformed-user');
  const from = new TextDecoder().decode(payload.subarray(3, 3 + nl));
  if (kind === ENV_BROADCAST) {
    if (!markSeen(c, payload)) return;
    if (!viaStream) c.queue.queue({ key: undefined, msg: encodeUser(payload), weftOnly: true });
  } else if (kind !== ENV_DIRECT) return c.drop('malformed-user');
  const msg: UserMessage = { from, payload: payload.slice(3 + nl + extra), broadcast: kind === ENV_BROADCAST };
  for (const l of c.userListeners) {
    try {
      l(msg);
    } catch (e) {
      c.log(`user listener threw: ${String(e)}`);
    }
  }
}

/** Direct user message to a Weft member (UDP if it fits, else TCP). */
export async function sendUser(c: Core, nodeName: string, payload: Uint8Array): Promise<void> {
  const n = c.nodeMap.get(nodeName);
  if (n === undefined) throw new Error(`unknown member ${nodeName}`);
  if (!n.weft) throw new Error(`member ${nodeName} is not a Weft node`);
  const env = envelope(c, ENV_DIRECT, payload);
  const msg = encodeUser(env);
  if (msg.length + 64 <= c.config.udpBufferSize) {
    sendTo(c, n, [msg]);
    return;
  }
  await c.transport.request(n.addr, n.port, encodeStream(encodeStreamUser(env), c.streamOpts()), c.config.tcpTimeout, false);
  c.counters.streamsOut++;
}

/** Epidemic broadcast to all Weft members (re-gossiped by receivers, deduplicated). */
export function broadcastUser(c: Core, payload: Uint8Array): void {
  const env = envelope(c, ENV_BROADCAST, payload);
  const max = c.config.udpBufferSize - 2 - 2 - 5 - (c.ring.enabled ? ENCRYPT_OVERHEAD : 0);
  if (env.length + 1 > max) throw new Error(`broadcast payload too large (max ${max - 1 - (env.length - payload.length)} bytes)`);
  markSeen(c, env);
  c.queue.queue({ key: undefined, msg: encodeUser(env), weftOnly: true });
}
