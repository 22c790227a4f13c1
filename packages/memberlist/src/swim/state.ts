/**
 * The node state machine (memberlist state.go aliveNode/suspectNode/deadNode, spec §9):
 * incarnations, refutation of our own suspicion or death, suspicion timers, the
 * re-broadcast of every accepted change, and the membership events.
 */
import { encodeAlive, encodeDead, encodeSuspect } from '../wire/codec.ts';
import { NODE_STATE, type Alive, type Dead, type Suspect } from '../wire/types.ts';
import type { Core } from './core.ts';
import { addrKeyOf, aliveMsg, bytesEq, ipOf, tagsOf, type NodeRec } from './record.ts';
import { Suspicion, suspicionTimeout } from './suspicion.ts';

export function queueAlive(c: Core, n: NodeRec, onDone?: () => void): void {
  const b = { key: n.name, msg: encodeAlive(aliveMsg(n)), weftOnly: false };
  c.queue.queue(onDone === undefined ? b : { ...b, onDone });
}

export function refute(c: Core, self: NodeRec, accused: number): void {
  let inc = self.incarnation + 1;
  if (accused >= inc) inc = accused + 1;
  self.incarnation = inc;
  c.awareness.apply(1);
  queueAlive(c, self);
  c.log(`refuting with incarnation ${inc}`);
}

export function aliveNode(c: Core, a: Alive, bootstrap: boolean): void {
  if (c.leaving && a.node === c.name) return;
  if (a.vsn.length >= 3) {
    const pmin = a.vsn[0] as number;
    const pmax = a.vsn[1] as number;
    if (pmin === 0 || pmax === 0 || pmin > pmax) return c.drop('bad-vsn');
  }
  if (a.vsn.length !== 6) return c.drop('bad-vsn');
  if (a.node === '') return c.drop('empty-name');
  let st = c.nodeMap.get(a.node);
  let updatesNode = false;
  if (st === undefined) {
    const addr = ipOf(a.addr);
    if (addr === '') return c.drop('bad-addr');
    st = {
      name: a.node,
      addr,
      addrBytes: a.addr,
      port: a.port,
      meta: a.meta,
      tags: tagsOf(a.meta),
      weft: false,
      vsn: a.vsn,
      incarnation: 0,
      state: NODE_STATE.dead,
      // Created as a double field (NaN), then set: when a record's first value is a small
      // integer (a simulator starting at t = 0), V8 makes the field an integer one, and the
      // first fractional time stored later deprecates the shape of every record built here,
      // so each is migrated on its next access (millions in large simulations).
      stateChange: NaN,
      addrKey: addrKeyOf(a.addr, addr, a.port),
      ppBytes: undefined,
      ppInc: 0,
      ppState: 0,
    };
    st.weft = st.tags['weft'] === '1';
    st.stateChange = c.clock.now();
    c.nodeMap.set(a.node, st);
    c.addrIndex.set(st.addrKey, st);
    // insert at a random position (keeps the failure-detection bound low)
    const off = Math.floor(c.random() * (c.nodes.length + 1));
    c.nodes.push(st);
    const last = c.nodes.length - 1;
    const tmp = c.nodes[off] as NodeRec;
    c.nodes[off] = st;
    c.nodes[last] = tmp;
  } else if (!bytesEq(st.addrBytes, a.addr) || st.port !== a.port) {
    if (st.state === NODE_STATE.left) updatesNode = true;
    else {
      c.log(`conflicting address for ${a.node}`);
      return c.drop('addr-conflict');
    }
  }
  const isLocal = st.name === c.name;
  if (a.incarnation <= st.incarnation && !isLocal && !updatesNode) return;
  if (a.incarnation < st.incarnation && isLocal) return;
  clearSuspicion(c, a.node);
  const oldState = st.state;
  const oldMeta = st.meta;
  if (!bootstrap && isLocal) {
    if (a.incarnation === st.incarnation && bytesEq(a.meta, st.meta) && bytesEq(a.vsn, st.vsn)) return;
    refute(c, st, a.incarnation);
    return;
  }
  if (!c.seeding) c.queue.queue({ key: a.node, msg: encodedOnce(a, encodeAlive), weftOnly: false });
  st.vsn = a.vsn;
  st.incarnation = a.incarnation;
  st.ppBytes = undefined;
  if (!bytesEq(st.meta, a.meta)) {
    st.meta = a.meta;
    st.tags = tagsOf(a.meta);
    st.weft = st.tags['weft'] === '1';
  }
  if (!bytesEq(st.addrBytes, a.addr) || st.port !== a.port) {
    if (c.addrIndex.get(st.addrKey) === st) c.addrIndex.delete(st.addrKey);
    st.addrBytes = a.addr;
    st.addr = ipOf(a.addr);
    st.port = a.port;
    st.addrKey = addrKeyOf(a.addr, st.addr, a.port);
    c.addrIndex.set(st.addrKey, st);
  }
  if (st.state !== NODE_STATE.alive) {
    st.state = NODE_STATE.alive;
    st.stateChange = c.clock.now();
  }
  if (oldState === NODE_STATE.dead || oldState === NODE_STATE.left) c.emit('join', st);
  else if (!bytesEq(oldMeta, st.meta)) c.emit('update', st);
  else if (oldState === NODE_STATE.suspect) c.emit('alive', st);
}

export function suspectNode(c: Core, s: Suspect): void {
  const st = c.nodeMap.get(s.node);
  if (st === undefined) return;
  if (s.incarnation < st.incarnation) return;
  const timer = c.suspicions.get(s.node);
  if (timer !== undefined) {
    if (timer.confirm(s.from)) c.queue.queue({ key: s.node, msg: encodedOnce(s, encodeSuspect), weftOnly: false });
    return;
  }
  if (st.state !== NODE_STATE.alive) return;
  if (st.name === c.name) {
    refute(c, st, s.incarnation);
    return;
  }
  c.queue.queue({ key: s.node, msg: encodedOnce(s, encodeSuspect), weftOnly: false });
  st.incarnation = s.incarnation;
  st.state = NODE_STATE.suspect;
  c.counters.suspicions++;
  const changeTime = c.clock.now();
  st.stateChange = changeTime;
  const n = c.nodes.length;
  let k = c.config.suspicionMult - 2;
  if (n - 2 < k) k = 0;
  const min = suspicionTimeout(c.config.suspicionMult, n, c.config.probeInterval);
  const max = c.config.suspicionMaxTimeoutMult * min;
  const fire = () => {
    c.suspicions.delete(s.node);
    const cur = c.nodeMap.get(s.node);
    if (cur !== undefined && cur.state === NODE_STATE.suspect && cur.stateChange === changeTime)
      deadNode(c, { incarnation: cur.incarnation, node: cur.name, from: c.name });
  };
  c.suspicions.set(s.node, new Suspicion(c.clock, changeTime, s.from, k, min, max, fire));
  c.emit('suspect', st);
}

export function clearSuspicion(c: Core, name: string): void {
  const s = c.suspicions.get(name);
  if (s !== undefined) {
    s.stop();
    c.suspicions.delete(name);
  }
}

export function deadNode(c: Core, d: Dead, onDone?: () => void): void {
  const st = c.nodeMap.get(d.node);
  if (st === undefined) return;
  if (d.incarnation < st.incarnation) return;
  clearSuspicion(c, d.node);
  if (st.state === NODE_STATE.dead || st.state === NODE_STATE.left) return;
  if (st.name === c.name && !c.leaving) {
    refute(c, st, d.incarnation);
    return;
  }
  const b = { key: d.node, msg: encodedOnce(d, encodeDead), weftOnly: false };
  c.queue.queue(onDone === undefined ? b : { ...b, onDone });
  st.incarnation = d.incarnation;
  st.state = d.node === d.from ? NODE_STATE.left : NODE_STATE.dead;
  st.stateChange = c.clock.now();
  c.emit(st.state === NODE_STATE.left ? 'left' : 'dead', st);
}

// Our encoding of a (read-only) decoded alive/suspect/dead message, per message object:
// the decoder shares one object per distinct message (see decodeMessage), so a broadcast
// that every member re-gossips is encoded once rather than once per member.
const encodedMsgs = new WeakMap<object, Uint8Array>();
function encodedOnce<T extends object>(m: T, enc: (m: T) => Uint8Array): Uint8Array {
  let b = encodedMsgs.get(m);
  if (b === undefined) {
    b = enc(m);
    encodedMsgs.set(m, b);
  }
  return b;
}
