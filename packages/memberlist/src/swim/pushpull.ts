/**
 * Push/pull anti-entropy (memberlist state.go pushPull/pushPullTrigger and net.go
 * sendAndReceiveState/mergeRemoteState, spec §8): full node-table exchange with one random
 * member every scaled interval and on join, the protocol-version check, and the merge.
 */
import { encodeNodeState, encodePushPullRaw } from '../wire/pushpull.ts';
import { decodeStream, encodeStream, isKeyError } from '../wire/stream.ts';
import { NODE_STATE, type PushNodeState, type PushPull } from '../wire/types.ts';
import type { Core } from './core.ts';
import { bytesEq, type NodeRec } from './record.ts';
import { aliveNode, deadNode, suspectNode } from './state.ts';
import { noteSerf, WEFT_MAGIC } from './user.ts';

/** Next push/pull after memberlist's pushPullScale(interval, N): × (ceil(log2 N − log2 32) + 1) above 32 nodes. */
export function schedulePushPull(c: Core): void {
  if (!c.running || c.leaving) return;
  const n = c.nodes.length;
  const mult = n > 32 ? Math.ceil(Math.log2(n) - Math.log2(32)) + 1 : 1;
  c.schedule(() => pushPullTick(c), c.config.pushPullInterval * mult);
}

export function pushPullTick(c: Core): void {
  if (!c.running || c.leaving) return;
  schedulePushPull(c);
  const [peer] = c.kRandom(1, (x) => x.name !== c.name && x.state === NODE_STATE.alive);
  if (peer === undefined) return;
  pushPull(c, peer.addr, peer.port, false, peer.weft).catch((e: unknown) => c.log(`push/pull with ${peer.name}: ${String(e)}`));
}

export function nodeStateBytes(c: Core, n: NodeRec): Uint8Array {
  if (n.ppBytes !== undefined && n.ppInc === n.incarnation && n.ppState === n.state) return n.ppBytes;
  n.ppInc = n.incarnation;
  n.ppState = n.state;
  const hit = stateCache.get(n.addrBytes);
  if (
    hit !== undefined &&
    hit.incarnation === n.incarnation &&
    hit.state === n.state &&
    hit.port === n.port &&
    hit.name === n.name &&
    hit.meta === n.meta &&
    hit.vsn === n.vsn
  ) {
    n.ppBytes = hit.bytes;
    return hit.bytes;
  }
  const bytes = encodeNodeState({
    name: n.name,
    addr: n.addrBytes,
    port: n.port,
    meta: n.meta,
    incarnation: n.incarnation,
    state: n.state,
    vsn: n.vsn,
  });
  n.ppBytes = bytes;
  stateCache.set(n.addrBytes, { name: n.name, port: n.port, meta: n.meta, vsn: n.vsn, incarnation: n.incarnation, state: n.state, bytes });
  return bytes;
}

export function localPushPull(c: Core, join: boolean, withUserState: boolean): Uint8Array {
  const states = c.nodes.map((n) => nodeStateBytes(c, n));
  let userState: Uint8Array = new Uint8Array(0);
  if (withUserState && c.opts.localState !== undefined) {
    const s = c.opts.localState(join);
    userState = new Uint8Array(s.length + 1);
    userState[0] = WEFT_MAGIC;
    userState.set(s, 1);
  }
  return encodePushPullRaw(join, states, userState, c.opts.streamAlloc);
}

export async function pushPull(c: Core, addr: string, port: number, join: boolean, withUserState: boolean): Promise<void> {
  const req = encodeStream(localPushPull(c, join, withUserState), c.streamOpts());
  c.counters.streamsOut++;
  c.counters.pushPulls++;
  const reply = await c.transport.request(addr, port, req, c.config.tcpTimeout, true);
  if (reply === undefined) {
    c.counters.pushPullFailures++;
    throw new Error('no reply');
  }
  const d = decodeStream(reply, c.ring.enabled ? c.ring : undefined);
  if (!d.ok) {
    if (isKeyError(d.error)) c.refuse('stream', `reply from ${addr}:${port}`, d.error);
    c.drop('bad-stream');
    throw new Error(d.error);
  }
  if (d.value.kind === 'err') throw new Error(`remote error: ${d.value.error}`);
  if (d.value.kind !== 'pushPull') throw new Error(`unexpected reply ${d.value.kind}`);
  const bad = verifyProtocol(c, d.value.msg.nodes);
  if (bad !== undefined) {
    c.drop('incompatible-vsn');
    c.log(`push/pull with ${addr}:${port} refused: ${bad}`);
    throw new Error(`push/pull refused: ${bad}`);
  }
  mergeRemote(c, d.value.msg);
}

/**
 * memberlist's verifyProtocol (spec §8): over the alive nodes of both tables, find the
 * version window [max PMin, min PMax] and [max DMin, min DMax]; every node's PCur and DCur
 * (local and remote, any state; an empty Vsn counts as 0) must lie inside it.
 * Returns why the merge must be refused, or undefined.
 */
export function verifyProtocol(c: Core, remote: readonly PushNodeState[]): string | undefined {
  let maxPMin = 0;
  let minPMax = 255;
  let maxDMin = 0;
  let minDMax = 255;
  const widen = (v: Uint8Array) => {
    if (v.length === 0) return;
    maxPMin = Math.max(maxPMin, v[0] ?? 0);
    minPMax = Math.min(minPMax, v[1] ?? 0);
    maxDMin = Math.max(maxDMin, v[3] ?? 0);
    minDMax = Math.min(minDMax, v[4] ?? 0);
  };
  // Members nearly always share one Vsn value: skip repeats of the previous one.
  let last: Uint8Array | undefined;
  for (const r of remote)
    if (r.state === NODE_STATE.alive && (last === undefined || !bytesEq(last, r.vsn))) widen((last = r.vsn));
  for (const n of c.nodes)
    if (n.state === NODE_STATE.alive && (last === undefined || !bytesEq(last, n.vsn))) widen((last = n.vsn));
  const check = (name: string, v: Uint8Array): string | undefined => {
    const p = v.length > 0 ? (v[2] ?? 0) : 0;
    const d = v.length > 0 ? (v[5] ?? 0) : 0;
    if (p < maxPMin || p > minPMax) return `node '${name}' protocol version (${p}) is incompatible: [${maxPMin}, ${minPMax}]`;
    if (d < maxDMin || d > minDMax) return `node '${name}' delegate protocol version (${d}) is incompatible: [${maxDMin}, ${minDMax}]`;
    return undefined;
  };
  let passed: Uint8Array | undefined;
  for (const r of remote) {
    if (passed !== undefined && bytesEq(passed, r.vsn)) continue;
    const e = check(r.name, r.vsn);
    if (e !== undefined) return e;
    passed = r.vsn;
  }
  for (const n of c.nodes) {
    if (passed !== undefined && bytesEq(passed, n.vsn)) continue;
    const e = check(n.name, n.vsn);
    if (e !== undefined) return e;
    passed = n.vsn;
  }
  return undefined;
}

export function mergeRemote(c: Core, p: PushPull): void {
  for (const r of p.nodes) {
    switch (r.state) {
      case NODE_STATE.alive: {
        // Nearly every entry is a member we already know at this incarnation or newer, from
        // the same address and Vsn: aliveNode would return
        // without a change, so skip building its argument. Anything else takes the full path.
        const st = c.nodeMap.get(r.name);
        if (st !== undefined && r.incarnation <= st.incarnation && st.port === r.port && st.name !== c.name && bytesEq(st.vsn, r.vsn) && bytesEq(st.addrBytes, r.addr))
          break;
        aliveNode(c, { incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn }, false);
        break;
      }
      case NODE_STATE.left:
        deadNode(c, { incarnation: r.incarnation, node: r.name, from: r.name });
        break;
      default:
        suspectNode(c, { incarnation: r.incarnation, node: r.name, from: c.name });
    }
  }
  const us = p.userState;
  if (us.length === 0) return;
  if (us[0] === WEFT_MAGIC) {
    try {
      c.opts.mergeRemoteState?.(us.slice(1), p.join);
    } catch (e) {
      c.log(`mergeRemoteState threw: ${String(e)}`);
    }
  } else noteSerf(c, us);
}

// Encoded push/pull node states, one slot per address buffer: records that share the
// address, meta and vsn buffers (learned from the same decoded message, or seeded from the
// same Alive) and agree on name, port, incarnation and state share the encoded bytes
// (identical inputs → identical bytes; helps large simulations, harmless otherwise).
interface EncodedState {
  readonly name: string;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly vsn: Uint8Array;
  readonly incarnation: number;
  readonly state: number;
  readonly bytes: Uint8Array;
}
const stateCache = new WeakMap<Uint8Array, EncodedState>();
