/**
 * Push/pull state exchange (spec §5): one msgpack pushNodeState per member after a
 * `{Nodes, UserStateLen, Join}` header, then the user state. Large clusters send N entries
 * per exchange, so decoding has a fast path and a content cache (see below).
 */
import { asciiKey, decodeMap, getBool, getBytes, getStr, getUint, textDecode, Writer, writeValue, type MpMap } from './msgpack.ts';
import { err, ok, type Result } from '@weft/net';
import { bad, hashBytes, sameBytes } from './codec.ts';
import { MSG, type NodeStateCode, type PushNodeState, type PushPull } from './types.ts';

/** msgpack of one pushNodeState (cacheable by callers). */
export function encodeNodeState(n: PushNodeState): Uint8Array {
  const w = new Writer(64 + n.meta.length + n.name.length);
  writeValue(w, {
    Name: n.name,
    Addr: n.addr,
    Port: n.port,
    Meta: n.meta.length > 0 ? n.meta : null,
    Incarnation: n.incarnation,
    State: n.state,
    Vsn: n.vsn,
  });
  return w.result();
}

/** Push/pull from already-encoded node states. */
export function encodePushPullRaw(join: boolean, states: readonly Uint8Array[], userState: Uint8Array, alloc?: (size: number) => Uint8Array): Uint8Array {
  let size = 64 + userState.length;
  for (const s of states) size += s.length;
  const w = new Writer(size, alloc?.(size));
  w.u8(MSG.pushPull);
  writeValue(w, { Nodes: states.length, UserStateLen: userState.length, Join: join });
  for (const s of states) w.raw(s);
  w.raw(userState);
  // sized up front: return the buffer itself instead of a copy (N × ~100 B at large N)
  return w.buf.subarray(0, w.len);
}

export function encodePushPull(p: PushPull): Uint8Array {
  return encodePushPullRaw(p.join, p.nodes.map(encodeNodeState), p.userState);
}

function decodeNodeState(m: MpMap): Result<PushNodeState> {
  const name = getStr(m, 'Name');
  const addr = getBytes(m, 'Addr');
  const port = getUint(m, 'Port');
  const meta = getBytes(m, 'Meta');
  const incarnation = getUint(m, 'Incarnation');
  const state = getUint(m, 'State');
  const vsn = getBytes(m, 'Vsn');
  if (
    name === undefined ||
    addr === undefined ||
    port === undefined ||
    port > 0xffff ||
    meta === undefined ||
    incarnation === undefined ||
    state === undefined ||
    state > 3 ||
    vsn === undefined
  )
    return bad('push node state');
  return ok({ name, addr, port, meta, incarnation, state: state as NodeStateCode, vsn });
}

/** The body of a push/pull message (`buf[0]` is its type byte). */
export function decodePushPull(buf: Uint8Array): Result<PushPull> {
  const h = decodeMap(buf, 1);
  if (!h.ok) return h;
  const nodes = getUint(h.value.value, 'Nodes');
  const usl = getUint(h.value.value, 'UserStateLen');
  const join = getBool(h.value.value, 'Join');
  if (nodes === undefined || usl === undefined || join === undefined) return err('stream: bad push/pull header');
  let o = h.value.end;
  const states: PushNodeState[] = [];
  for (let i = 0; i < nodes; i++) {
    const f = fastNodeState(buf, o);
    if (f !== undefined) {
      o = fastEnd;
      states.push(f);
      continue;
    }
    const s = decodeMap(buf, o);
    if (!s.ok) return s;
    o = s.value.end;
    const ns = decodeNodeState(s.value.value);
    if (!ns.ok) return ns;
    states.push(ns.value);
  }
  if (o + usl > buf.length) return err('stream: truncated push/pull user state');
  return ok({ join, nodes: states, userState: buf.slice(o, o + usl) });
}

/**
 * Decoded push/pull node states by content, like `decodeCache` for broadcasts: in a push/pull
 * every member is listed, nearly always unchanged since the last exchange, so the same entry
 * bytes arrive again and again (N entries per exchange, N exchanges per round). Reusing one
 * decoded state (never mutated) per distinct entry means an unchanged entry allocates nothing, and its
 * name string (already hashed) makes the receiver's lookup cheap. Bounded (cleared when full).
 */
const NODE_STATE_CACHE_MAX = 65536;
interface NodeStateCacheEntry {
  readonly bytes: Uint8Array;
  readonly value: PushNodeState;
  next: NodeStateCacheEntry | undefined;
}
const nodeStateCache = new Map<number, NodeStateCacheEntry>();
let nodeStateCacheSize = 0;
/** End offset of the entry `fastNodeState` last decoded (saves a wrapper object per entry). */
let fastEnd = 0;

/**
 * End of the msgpack fixmap at `o` whose keys are fixstr and whose values are positive
 * fixints, uint 8/16/32, or str/bin with an 8/16-bit length (the layout of a node state), or
 * -1 for anything else. Only the structure is read, so an entry already in
 * `nodeStateCache` costs this walk, a hash and a comparison.
 */
function skipFlatMap(buf: Uint8Array, o: number): number {
  const len = buf.length;
  const h = buf[o];
  if (h === undefined || (h & 0xf0) !== 0x80) return -1;
  let p = o + 1;
  for (let i = h & 0x0f; i > 0; i--) {
    const kb = buf[p];
    if (kb === undefined || (kb & 0xe0) !== 0xa0) return -1;
    p += 1 + (kb & 0x1f);
    const t = buf[p];
    if (t === undefined) return -1;
    if (t <= 0x7f) p += 1;
    else if ((t & 0xe0) === 0xa0) p += 1 + (t & 0x1f);
    else if (t === 0xcc) p += 2;
    else if (t === 0xcd) p += 3;
    else if (t === 0xce) p += 5;
    else if (t === 0xd9 || t === 0xc4) p += 2 + ((buf[p + 1] ?? 0) as number);
    else if (t === 0xda || t === 0xc5) p += 3 + ((((buf[p + 1] ?? 0) as number) << 8) | ((buf[p + 2] ?? 0) as number));
    else return -1;
  }
  return p <= len ? p : -1;
}

/**
 * Fast path for one push/pull node state (a push/pull carries one per member, so large
 * clusters decode N of them per exchange): a fixmap holding exactly memberlist's seven
 * fields once each, with str/bin and uint (≤ 32 bit) values and in-range Port/State.
 * Anything else returns undefined and the generic decoder runs, so results and error
 * messages are the same as without it.
 */
function fastNodeState(buf: Uint8Array, o: number): PushNodeState | undefined {
  // Whatever the full walk below accepts has this structure, so -1 means it would fail too.
  const end = skipFlatMap(buf, o);
  if (end < 0) return undefined;
  const key = hashBytes(buf, o, end);
  for (let e = nodeStateCache.get(key); e !== undefined; e = e.next)
    if (sameBytes(e.bytes, buf, o, end)) {
      fastEnd = end;
      return e.value;
    }
  const len = buf.length;
  const h = buf[o];
  if (h === undefined || (h & 0xf0) !== 0x80) return undefined;
  const n = h & 0x0f;
  let p = o + 1;
  let nameAt = 0;
  let nameLen = 0;
  let addrAt = 0;
  let addrLen = 0;
  let metaAt = 0;
  let metaLen = 0;
  let vsnAt = 0;
  let vsnLen = 0;
  let port = 0;
  let incarnation = 0;
  let state = 0;
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const kb = buf[p];
    if (kb === undefined || (kb & 0xe0) !== 0xa0) return undefined;
    const kl = kb & 0x1f;
    if (p + 1 + kl > len) return undefined;
    const key = asciiKey(buf, p + 1, kl);
    if (key === undefined) return undefined;
    p += 1 + kl;
    const t = buf[p];
    if (t === undefined) return undefined;
    let bs = -1;
    let bl = 0;
    let num = -1;
    if (t <= 0x7f) {
      num = t;
      p += 1;
    } else if ((t & 0xe0) === 0xa0) {
      bl = t & 0x1f;
      bs = p + 1;
    } else if (t === 0xcc || t === 0xcd || t === 0xce) {
      const w = t === 0xcc ? 1 : t === 0xcd ? 2 : 4;
      if (p + 1 + w > len) return undefined;
      num = 0;
      for (let j = 1; j <= w; j++) num = num * 256 + (buf[p + j] as number);
      p += 1 + w;
    } else if (t === 0xd9 || t === 0xc4) {
      if (p + 2 > len) return undefined;
      bl = buf[p + 1] as number;
      bs = p + 2;
    } else if (t === 0xda || t === 0xc5) {
      if (p + 3 > len) return undefined;
      bl = ((buf[p + 1] as number) << 8) | (buf[p + 2] as number);
      bs = p + 3;
    } else return undefined;
    if (bs >= 0) {
      if (bs + bl > len) return undefined;
      p = bs + bl;
    }
    switch (key) {
      case 'Name':
        if (bs < 0 || (seen & 1) !== 0) return undefined;
        seen |= 1;
        nameAt = bs;
        nameLen = bl;
        break;
      case 'Addr':
        if (bs < 0 || (seen & 2) !== 0) return undefined;
        seen |= 2;
        addrAt = bs;
        addrLen = bl;
        break;
      case 'Port':
        if (num < 0 || num > 0xffff || (seen & 4) !== 0) return undefined;
        seen |= 4;
        port = num;
        break;
      case 'Meta':
        if (bs < 0 || (seen & 8) !== 0) return undefined;
        seen |= 8;
        metaAt = bs;
        metaLen = bl;
        break;
      case 'Incarnation':
        if (num < 0 || (seen & 16) !== 0) return undefined;
        seen |= 16;
        incarnation = num;
        break;
      case 'State':
        if (num < 0 || num > 3 || (seen & 32) !== 0) return undefined;
        seen |= 32;
        state = num;
        break;
      case 'Vsn':
        if (bs < 0 || (seen & 64) !== 0) return undefined;
        seen |= 64;
        vsnAt = bs;
        vsnLen = bl;
        break;
      default:
        return undefined;
    }
  }
  if (seen !== 127) return undefined;
  fastEnd = p;
  let name = '';
  let ascii = true;
  for (let j = nameAt; j < nameAt + nameLen; j++)
    if ((buf[j] as number) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) name = String.fromCharCode.apply(null, Array.from(buf.subarray(nameAt, nameAt + nameLen)));
  else name = textDecode(buf.subarray(nameAt, nameAt + nameLen));
  const value: PushNodeState = {
    name,
    addr: buf.slice(addrAt, addrAt + addrLen),
    port,
    meta: buf.slice(metaAt, metaAt + metaLen),
    incarnation,
    state: state as NodeStateCode,
    vsn: vsnLen === 6 ? internVsn(buf, vsnAt) : buf.slice(vsnAt, vsnAt + vsnLen),
  };
  if (nodeStateCacheSize >= NODE_STATE_CACHE_MAX) {
    nodeStateCache.clear();
    nodeStateCacheSize = 0;
  }
  nodeStateCache.set(key, { bytes: buf.slice(o, p), value, next: nodeStateCache.get(key) });
  nodeStateCacheSize++;
  return value;
}

// Every member of a cluster usually carries the same 6-byte Vsn: decoded push/pull node
// states share one read-only copy per distinct value (bounded).
const vsnIntern = new Map<number, Uint8Array>();
function internVsn(buf: Uint8Array, at: number): Uint8Array {
  let k = 0;
  for (let j = 0; j < 6; j++) k = k * 256 + (buf[at + j] as number);
  let v = vsnIntern.get(k);
  if (v === undefined) {
    v = buf.slice(at, at + 6);
    if (vsnIntern.size < 256) vsnIntern.set(k, v);
  }
  return v;
}
