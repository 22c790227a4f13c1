/**
 * The failure detector's probe loop (memberlist state.go probe/probeNode, spec §8): one
 * member per probe interval, round-robin over a shuffled table; direct ping, then indirect
 * pings through `indirectChecks` peers and a TCP ping; no ack in time → suspect. Reaps
 * long-dead members when the round restarts.
 */
import { encodeIndirectPing, encodePing, encodeSuspect } from '../wire/codec.ts';
import { decodeStream, encodeStream, isKeyError } from '../wire/stream.ts';
import { NODE_STATE, type IndirectPing } from '../wire/types.ts';
import type { Core } from './core.ts';
import type { NodeRec } from './record.ts';
import { sendTo } from './send.ts';
import { suspectNode } from './state.ts';

export function probeTick(c: Core): void {
  if (!c.running || c.leaving) return;
  const start = c.clock.now();
  const next = () => {
    if (!c.running || c.leaving) return;
    const wait = Math.max(0, start + c.config.probeInterval - c.clock.now());
    c.schedule(() => probeTick(c), wait);
  };
  const target = nextProbeTarget(c);
  if (target === undefined) return next();
  probeNode(c, target, next);
}

export function nextProbeTarget(c: Core): NodeRec | undefined {
  for (let checked = 0; checked <= c.nodes.length; checked++) {
    if (c.probeIndex >= c.nodes.length) {
      resetNodes(c);
      c.probeIndex = 0;
      if (c.nodes.length === 0) return undefined;
    }
    const n = c.nodes[c.probeIndex++] as NodeRec;
    if (n.name === c.name || n.state === NODE_STATE.dead || n.state === NODE_STATE.left) continue;
    return n;
  }
  return undefined;
}

/** Reap dead/left nodes older than gossipToTheDeadTime and reshuffle. */
export function resetNodes(c: Core): void {
  const now = c.clock.now();
  const keep: NodeRec[] = [];
  for (const n of c.nodes) {
    if ((n.state === NODE_STATE.dead || n.state === NODE_STATE.left) && now - n.stateChange > c.config.gossipToTheDeadTime) {
      c.nodeMap.delete(n.name);
      if (c.addrIndex.get(n.addrKey) === n) c.addrIndex.delete(n.addrKey);
      c.emit('reap', n);
      continue;
    }
    keep.push(n);
  }
  for (let i = keep.length - 1; i > 0; i--) {
    const j = Math.floor(c.random() * (i + 1));
    const t = keep[i] as NodeRec;
    keep[i] = keep[j] as NodeRec;
    keep[j] = t;
  }
  c.nodes = keep;
}

export function probeNode(c: Core, target: NodeRec, done: () => void): void {
  const seq = c.nextSeq();
  const interval = c.awareness.scale(c.config.probeInterval);
  let finished = false;
  let nacks = 0;
  let expectedNacks = 0;
  let fallbackOk = false;
  const timers: unknown[] = [];
  const finish = (ok: boolean) => {
    if (finished) return;
    finished = true;
    for (const t of timers) c.clock.clearTimeout(t);
    c.ackHandlers.delete(seq);
    if (ok) c.awareness.apply(-1);
    else {
      c.counters.probeFailures++;
      c.awareness.apply(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      const cur = c.nodeMap.get(target.name);
      if (cur !== undefined && c.running && !c.leaving)
        suspectNode(c, { incarnation: cur.incarnation, node: cur.name, from: c.name });
    }
    done();
  };
  c.ackHandlers.set(seq, { ack: () => finish(true), nack: () => void nacks++ });
  c.counters.probes++;
  const ping = encodePing({ seqNo: seq, node: target.name, sourceAddr: c.addrBytes, sourcePort: c.port, sourceNode: c.name });
  if (target.state === NODE_STATE.alive) sendTo(c, target, [ping]);
  else sendTo(c, target, [ping, encodeSuspect({ incarnation: target.incarnation, node: target.name, from: c.name })], false);

  timers.push(
    c.clock.setTimeout(() => {
      if (finished || !c.running) return;
      // indirect probes
      const peers = c.kRandom(
        c.config.indirectChecks,
        (n) => n.name !== c.name && n.name !== target.name && n.state === NODE_STATE.alive,
      );
      for (const p of peers) {
        const wantNack = (p.vsn[1] ?? 0) >= 4;
        if (wantNack) expectedNacks++;
        const req: IndirectPing = {
          seqNo: seq,
          target: target.addrBytes,
          port: target.port,
          node: target.name,
          nack: wantNack,
          sourceAddr: c.addrBytes,
          sourcePort: c.port,
          sourceNode: c.name,
        };
        sendTo(c, p, [encodeIndirectPing(req)]);
      }
      if (c.config.tcpPings && (target.vsn[1] ?? 0) >= 3) {
        const remaining = Math.max(1, interval - c.config.probeTimeout);
        tcpPing(c, target, seq, remaining).then(
          (ok) => {
            if (ok) fallbackOk = true;
          },
          () => {},
        );
      }
    }, c.config.probeTimeout),
  );
  timers.push(
    c.clock.setTimeout(() => {
      if (finished) return;
      if (fallbackOk) {
        c.log(`${target.name} answered only over TCP; network may be misconfigured`);
        finish(true);
      } else finish(false);
    }, interval),
  );
}

export async function tcpPing(c: Core, target: NodeRec, seq: number, timeoutMs: number): Promise<boolean> {
  const ping = encodePing({ seqNo: seq, node: target.name, sourceAddr: c.addrBytes, sourcePort: c.port, sourceNode: c.name });
  c.counters.streamsOut++;
  const reply = await c.transport.request(target.addr, target.port, encodeStream(ping, c.streamOpts()), timeoutMs, true);
  if (reply === undefined) return false;
  const d = decodeStream(reply, c.ring.enabled ? c.ring : undefined);
  if (!d.ok && isKeyError(d.error)) c.refuse('stream', `reply from ${target.addr}:${target.port}`, d.error);
  return d.ok && d.value.kind === 'ack' && d.value.msg.seqNo === seq;
}
