/**
 * Typed codecs for memberlist 0.2.2 messages (spec §3–§6) plus the UDP wrappers
 * (compound, compress, CRC, encryption) and TCP stream framing. Every decoder returns
 * a Result or collects errors; nothing here throws on bad input.
 */
import { crc32 } from './crc32.ts';
import { decryptPayload, encryptPayload, ENCRYPT_OVERHEAD, type Keyring } from './crypto.ts';
import { lzwDecode, lzwEncode } from './lzw.ts';
import {
  asciiKey,
  decodeMap,
  textDecode,
  encodeWithType,
  getBool,
  getBytes,
  getStr,
  getUint,
  TRUNCATED,
  textEncode,
  Writer,
  writeValue,
  type MpMap,
} from './msgpack.ts';
import { err, ok, type Result } from './result.ts';

export const MSG = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
} as const;

export const NODE_STATE = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type NodeStateCode = 0 | 1 | 2 | 3;

/** Max stream message (spec §6: receivers refuse > 20 MiB). */
export const MAX_STREAM_SIZE = 20 * 1024 * 1024;
/** Max parts of a compound message. */
export const MAX_COMPOUND = 255;
/** Nesting limit for compound/compress/crc wrappers. */
const MAX_WRAP_DEPTH = 4;
/** Max messages produced from one packet. */
const MAX_PACKET_MESSAGES = 1024;
/** Max decompressed size for a UDP packet (compressed packets are ≤ 64 KiB). */
const MAX_UDP_DECOMPRESSED = 1024 * 1024;

export interface Ping {
  readonly seqNo: number;
  readonly node: string;
  readonly sourceAddr?: Uint8Array;
  readonly sourcePort?: number;
  readonly sourceNode?: string;
}
export interface IndirectPing {
  readonly seqNo: number;
  readonly target: Uint8Array;
  readonly port: number;
  readonly node: string;
  readonly nack: boolean;
  readonly sourceAddr?: Uint8Array;
  readonly sourcePort?: number;
  readonly sourceNode?: string;
}
export interface Ack {
  readonly seqNo: number;
  readonly payload: Uint8Array;
}
export interface Nack {
  readonly seqNo: number;
}
export interface Suspect {
  readonly incarnation: number;
  readonly node: string;
  readonly from: string;
}
export type Dead = Suspect;
export interface Alive {
  readonly incarnation: number;
  readonly node: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly vsn: Uint8Array;
}
export interface PushNodeState {
  readonly name: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly incarnation: number;
  readonly state: NodeStateCode;
  readonly vsn: Uint8Array;
}
export interface PushPull {
  readonly join: boolean;
  readonly nodes: readonly PushNodeState[];
  readonly userState: Uint8Array;
}

export type Message =
  | { readonly kind: 'ping'; readonly msg: Ping }
  | { readonly kind: 'indirectPing'; readonly msg: IndirectPing }
  | { readonly kind: 'ack'; readonly msg: Ack }
  | { readonly kind: 'nack'; readonly msg: Nack }
  | { readonly kind: 'suspect'; readonly msg: Suspect }
  | { readonly kind: 'alive'; readonly msg: Alive }
  | { readonly kind: 'dead'; readonly msg: Dead }
  | { readonly kind: 'user'; readonly payload: Uint8Array }
  | { readonly kind: 'unknown'; readonly type: number };

export type StreamMessage =
  | { readonly kind: 'pushPull'; readonly msg: PushPull }
  | { readonly kind: 'ping'; readonly msg: Ping }
  | { readonly kind: 'ack'; readonly msg: Ack }
  | { readonly kind: 'user'; readonly payload: Uint8Array }
  | { readonly kind: 'err'; readonly error: string };

// ---------------------------------------------------------------------------------------
// Encoders (type byte ‖ msgpack map with Go field names)

const src = (sourceAddr?: Uint8Array, sourcePort?: number, sourceNode?: string) => ({
  SourceAddr: sourceAddr !== undefined && sourceAddr.length > 0 ? sourceAddr : undefined,
  SourcePort: sourcePort !== undefined && sourcePort > 0 ? sourcePort : undefined,
  SourceNode: sourceNode !== undefined && sourceNode !== '' ? sourceNode : undefined,
});

export const encodePing = (m: Ping): Uint8Array =>
  encodeWithType(MSG.ping, { SeqNo: m.seqNo, Node: m.node, ...src(m.sourceAddr, m.sourcePort, m.sourceNode) });
export const encodeIndirectPing = (m: IndirectPing): Uint8Array =>
  encodeWithType(MSG.indirectPing, {
    SeqNo: m.seqNo,
    Target: m.target,
    Port: m.port,
    Node: m.node,
    Nack: m.nack,
    ...src(m.sourceAddr, m.sourcePort, m.sourceNode),
  });
export const encodeAck = (m: Ack): Uint8Array =>
  encodeWithType(MSG.ack, { SeqNo: m.seqNo, Payload: m.payload.length > 0 ? m.payload : null });
export const encodeNack = (m: Nack): Uint8Array => encodeWithType(MSG.nack, { SeqNo: m.seqNo });
export const encodeSuspect = (m: Suspect): Uint8Array =>
  encodeWithType(MSG.suspect, { Incarnation: m.incarnation, Node: m.node, From: m.from });
export const encodeDead = (m: Dead): Uint8Array =>
  encodeWithType(MSG.dead, { Incarnation: m.incarnation, Node: m.node, From: m.from });
export const encodeAlive = (m: Alive): Uint8Array =>
  encodeWithType(MSG.alive, {
    Incarnation: m.incarnation,
    Node: m.node,
    Addr: m.addr,
    Port: m.port,
    Meta: m.meta.length > 0 ? m.meta : null,
    Vsn: m.vsn,
  });
export function encodeUser(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = MSG.user;
  out.set(payload, 1);
  return out;
}
export const encodeErr = (error: string): Uint8Array => encodeWithType(MSG.err, { Error: error });

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

/** TCP user message: `08 ‖ {UserMsgLen} ‖ payload`. */
export function encodeStreamUser(payload: Uint8Array): Uint8Array {
  const w = new Writer(payload.length + 32);
  w.u8(MSG.user);
  writeValue(w, { UserMsgLen: payload.length });
  w.raw(payload);
  return w.result();
}

export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length > MAX_COMPOUND) throw new Error('too many compound parts');
  let total = 2 + parts.length * 2;
  for (const p of parts) {
    if (p.length > 0xffff) throw new Error('compound part too large');
    total += p.length;
  }
  const out = new Uint8Array(total);
  out[0] = MSG.compound;
  out[1] = parts.length;
  let o = 2;
  for (const p of parts) {
    out[o++] = p.length >> 8;
    out[o++] = p.length & 0xff;
  }
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const encodeCompress = (inner: Uint8Array): Uint8Array =>
  encodeWithType(MSG.compress, { Algo: 0, Buf: lzwEncode(inner) });

export function encodeCrc(inner: Uint8Array): Uint8Array {
  const out = new Uint8Array(inner.length + 5);
  out[0] = MSG.hasCrc;
  new DataView(out.buffer).setUint32(1, crc32(inner));
  out.set(inner, 5);
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoders

const bad = (what: string) => err<never>(`bad ${what} message`);

function decodeBody(buf: Uint8Array): Result<MpMap> {
  const r = decodeMap(buf, 1);
  return r.ok ? ok(r.value.value) : r;
}

function optSrc(m: MpMap) {
  const sa = getBytes(m, 'SourceAddr');
  const sp = getUint(m, 'SourcePort');
  const sn = getStr(m, 'SourceNode');
  if (sa === undefined || sp === undefined || sn === undefined || sp > 0xffff) return undefined;
  return { sourceAddr: sa, sourcePort: sp, sourceNode: sn };
}

export function decodePingBody(m: MpMap): Result<Ping> {
  const seqNo = getUint(m, 'SeqNo');
  const node = getStr(m, 'Node');
  const s = optSrc(m);
  if (seqNo === undefined || node === undefined || s === undefined) return bad('ping');
  return ok({ seqNo, node, ...s });
}
export function decodeAckBody(m: MpMap): Result<Ack> {
  const seqNo = getUint(m, 'SeqNo');
  const payload = getBytes(m, 'Payload');
  if (seqNo === undefined || payload === undefined) return bad('ack');
  return ok({ seqNo, payload });
}
function decodeIndirect(m: MpMap): Result<IndirectPing> {
  const seqNo = getUint(m, 'SeqNo');
  const target = getBytes(m, 'Target');
  const port = getUint(m, 'Port');
  const node = getStr(m, 'Node');
  const nack = getBool(m, 'Nack');
  const s = optSrc(m);
  if (
    seqNo === undefined ||
    target === undefined ||
    port === undefined ||
    port > 0xffff ||
    node === undefined ||
    nack === undefined ||
    s === undefined
  )
    return bad('indirect ping');
  return ok({ seqNo, target, port, node, nack, ...s });
}
function decodeSuspectBody(m: MpMap, what: string): Result<Suspect> {
  const incarnation = getUint(m, 'Incarnation');
  const node = getStr(m, 'Node');
  const from = getStr(m, 'From');
  if (incarnation === undefined || node === undefined || from === undefined) return bad(what);
  return ok({ incarnation, node, from });
}
function decodeAliveBody(m: MpMap): Result<Alive> {
  const incarnation = getUint(m, 'Incarnation');
  const node = getStr(m, 'Node');
  const addr = getBytes(m, 'Addr');
  const port = getUint(m, 'Port');
  const meta = getBytes(m, 'Meta');
  const vsn = getBytes(m, 'Vsn');
  if (
    incarnation === undefined ||
    node === undefined ||
    addr === undefined ||
    port === undefined ||
    port > 0xffff ||
    meta === undefined ||
    vsn === undefined
  )
    return bad('alive');
  return ok({ incarnation, node, addr, port, meta, vsn });
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

/**
 * Decoded alive/suspect/dead messages by content. A broadcast reaches every member
 * several times (retransmitted `retransmitMult × ceil(log10 N)` times by each node that
 * learns it), always as the same bytes, so each node decodes the same few messages over
 * and over; the decoder is a pure function and its results are never mutated, so one
 * decoded copy is shared. Keyed by a 32-bit hash, verified by a full byte comparison;
 * bounded (cleared when full). Only successful decodes are kept.
 */
const DECODE_CACHE_MAX = 8192;
const DECODE_CACHE_MAX_LEN = 1024;
interface DecodeCacheEntry {
  readonly bytes: Uint8Array;
  readonly result: Result<Message>;
  next: DecodeCacheEntry | undefined;
}
const decodeCache = new Map<number, DecodeCacheEntry>();
let decodeCacheSize = 0;

function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  for (let i = from; i < to; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h;
}

/** `a` equals `b[from, to)`. */
function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  if (a.length !== to - from) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[from + i]) return false;
  return true;
}

const cacheable = (t: number, len: number): boolean =>
  (t === MSG.alive || t === MSG.suspect || t === MSG.dead) && len <= DECODE_CACHE_MAX_LEN;

/** Cached decode of `buf[from, to)` (a cacheable message type), or undefined. */
function cachedDecode(buf: Uint8Array, from: number, to: number, h: number): Result<Message> | undefined {
  for (let e = decodeCache.get(h); e !== undefined; e = e.next) if (sameBytes(e.bytes, buf, from, to)) return e.result;
  return undefined;
}

/** Decode one plain (non-wrapper) UDP message. */
export function decodeMessage(buf: Uint8Array): Result<Message> {
  if (buf.length < 1) return err('empty message');
  const t = buf[0] as number;
  if (cacheable(t, buf.length)) {
    const h = hashBytes(buf, 0, buf.length);
    const hit = cachedDecode(buf, 0, buf.length, h);
    if (hit !== undefined) return hit;
    const r = decodeMessageUncached(buf, t);
    if (r.ok) {
      if (decodeCacheSize >= DECODE_CACHE_MAX) {
        decodeCache.clear();
        decodeCacheSize = 0;
      }
      decodeCache.set(h, { bytes: buf.slice(), result: r, next: decodeCache.get(h) });
      decodeCacheSize++;
    }
    return r;
  }
  return decodeMessageUncached(buf, t);
}

function decodeMessageUncached(buf: Uint8Array, t: number): Result<Message> {
  if (t === MSG.user) return ok({ kind: 'user', payload: buf.slice(1) });
  const known: readonly number[] = [MSG.ping, MSG.indirectPing, MSG.ack, MSG.nack, MSG.suspect, MSG.alive, MSG.dead];
  if (!known.includes(t)) return ok({ kind: 'unknown', type: t });
  const body = decodeBody(buf);
  if (!body.ok) return body;
  const m = body.value;
  const wrap = <K extends string, T>(kind: K, r: Result<T>) => (r.ok ? ok({ kind, msg: r.value }) : r);
  switch (t) {
    case MSG.ping:
      return wrap('ping', decodePingBody(m)) as Result<Message>;
    case MSG.indirectPing:
      return wrap('indirectPing', decodeIndirect(m)) as Result<Message>;
    case MSG.ack:
      return wrap('ack', decodeAckBody(m)) as Result<Message>;
    case MSG.nack: {
      const seqNo = getUint(m, 'SeqNo');
      return seqNo === undefined ? bad('nack') : ok({ kind: 'nack', msg: { seqNo } });
    }
    case MSG.suspect:
      return wrap('suspect', decodeSuspectBody(m, 'suspect')) as Result<Message>;
    case MSG.alive:
      return wrap('alive', decodeAliveBody(m)) as Result<Message>;
    default:
      return wrap('dead', decodeSuspectBody(m, 'dead')) as Result<Message>;
  }
}

export function decodeCompress(buf: Uint8Array, offset: number, maxOut: number): Result<{ inner: Uint8Array; end: number }> {
  const r = decodeMap(buf, offset);
  if (!r.ok) return r;
  const algo = getUint(r.value.value, 'Algo');
  const data = getBytes(r.value.value, 'Buf');
  if (algo !== 0) return err('compress: unsupported algorithm');
  if (data === undefined) return bad('compress');
  const d = lzwDecode(data, maxOut);
  return d.ok ? ok({ inner: d.value, end: r.value.end }) : d;
}

export interface PacketDecode {
  readonly messages: Message[];
  readonly errors: string[];
}

/**
 * Decode a plaintext UDP packet, unwrapping CRC, compress and compound (recursively,
 * bounded). Bad parts are reported in `errors`; good parts are still returned.
 */
export function decodePacket(buf: Uint8Array): PacketDecode {
  const out: PacketDecode = { messages: [], errors: [] };
  unwrap(buf, 0, out, { inflated: 0 });
  return out;
}

/**
 * One decompression budget for the whole packet: each compress wrapper alone is capped, but a
 * compound of many (a 58 KB datagram of 34 × 1 MiB of zeros) must not inflate 34 MiB.
 */
interface Budget {
  inflated: number;
}

function unwrap(buf: Uint8Array, depth: number, out: PacketDecode, budget: Budget): void {
  if (out.messages.length >= MAX_PACKET_MESSAGES) {
    out.errors.push('too many messages');
    return;
  }
  if (buf.length < 1) {
    out.errors.push('empty message');
    return;
  }
  const t = buf[0] as number;
  if (t === MSG.hasCrc || t === MSG.compress || t === MSG.compound) {
    if (depth >= MAX_WRAP_DEPTH) {
      out.errors.push('wrapper nesting too deep');
      return;
    }
    if (t === MSG.hasCrc) {
      if (buf.length < 5) {
        out.errors.push('truncated crc');
        return;
      }
      const want = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
      if (crc32(buf, 5) !== want) {
        out.errors.push('crc mismatch');
        return;
      }
      unwrap(buf.subarray(5), depth + 1, out, budget);
      return;
    }
    if (t === MSG.compress) {
      const left = MAX_UDP_DECOMPRESSED - budget.inflated;
      if (left <= 0) {
        out.errors.push('decompression budget of the packet exhausted');
        return;
      }
      const d = decodeCompress(buf, 1, left);
      if (!d.ok) out.errors.push(d.error);
      else {
        budget.inflated += d.value.inner.length;
        unwrap(d.value.inner, depth + 1, out, budget);
      }
      return;
    }
    // compound: 07 ‖ n ‖ n × u16 ‖ parts (truncated tail ignored)
    if (buf.length < 2) {
      out.errors.push('truncated compound');
      return;
    }
    const n = buf[1] as number;
    if (buf.length < 2 + 2 * n) {
      out.errors.push('truncated compound');
      return;
    }
    let o = 2 + 2 * n;
    for (let i = 0; i < n; i++) {
      const len = ((buf[2 + 2 * i] as number) << 8) | (buf[3 + 2 * i] as number);
      if (o + len > buf.length) {
        out.errors.push('truncated compound part');
        return;
      }
      // a part seen before is looked up in place (no view of it is made)
      const pt = buf[o] as number;
      const hit = len > 0 && cacheable(pt, len) ? cachedDecode(buf, o, o + len, hashBytes(buf, o, o + len)) : undefined;
      if (hit !== undefined && hit.ok && out.messages.length < MAX_PACKET_MESSAGES) out.messages.push(hit.value);
      else unwrap(buf.subarray(o, o + len), depth + 1, out, budget);
      o += len;
    }
    return;
  }
  const m = decodeMessage(buf);
  if (m.ok) out.messages.push(m.value);
  else out.errors.push(m.error);
}

// ---------------------------------------------------------------------------------------
// UDP pipeline

export interface PacketOptions {
  readonly compress?: boolean;
  readonly crc?: boolean;
  readonly keyring?: Keyring | undefined;
}

/**
 * Outgoing datagrams are carved from 256 KiB slabs instead of each getting its own
 * ArrayBuffer: a node sends many short-lived packets per second (three gossip packets every
 * 200 ms plus probes), and per-packet off-heap buffers make the garbage collector run far
 * more often. A slab is freed once every packet cut from it is gone.
 */
const SLAB_SIZE = 256 * 1024;
let slab = new Uint8Array(0);
let slabOff = 0;
function allocPacket(n: number): Uint8Array {
  if (n > 16 * 1024) return new Uint8Array(n);
  if (slabOff + n > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOff = 0;
  }
  const out = slab.subarray(slabOff, slabOff + n);
  slabOff += (n + 7) & ~7;
  return out;
}

/** `hasCrc ‖ crc ‖ compound(parts)` (or the single part) written into one buffer. */
function encodeCompoundCrc(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length > MAX_COMPOUND) throw new Error('too many compound parts');
  const single = parts.length === 1;
  let inner = single ? 0 : 2 + parts.length * 2;
  for (const p of parts) {
    if (!single && p.length > 0xffff) throw new Error('compound part too large');
    inner += p.length;
  }
  const out = allocPacket(5 + inner);
  out[0] = MSG.hasCrc;
  let o = 5;
  if (!single) {
    out[o++] = MSG.compound;
    out[o++] = parts.length;
    for (const p of parts) {
      out[o++] = p.length >> 8;
      out[o++] = p.length & 0xff;
    }
  }
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  const c = crc32(out, 5);
  out[1] = c >>> 24;
  out[2] = (c >>> 16) & 0xff;
  out[3] = (c >>> 8) & 0xff;
  out[4] = c & 0xff;
  return out;
}

/** Wrap 1..n messages for UDP: compound → compress (if smaller) → CRC → encrypt. */
export function encodePacket(msgs: readonly Uint8Array[], opts: PacketOptions = {}): Uint8Array {
  const key = opts.keyring?.primary();
  if (opts.compress !== true && opts.crc === true && key === undefined) return encodeCompoundCrc(msgs);
  let buf = msgs.length === 1 ? (msgs[0] as Uint8Array) : encodeCompound(msgs);
  if (opts.compress === true) {
    const c = encodeCompress(buf);
    if (c.length < buf.length) buf = c;
  }
  if (opts.crc === true) buf = encodeCrc(buf);
  if (key !== undefined) buf = encryptPayload(key, buf);
  return buf;
}

/** Undo the encryption layer of a datagram (if a keyring is set) then decode. */
export function openPacket(buf: Uint8Array, keyring?: Keyring): Result<PacketDecode> {
  let plain = buf;
  if (keyring !== undefined && keyring.enabled) {
    const d = decryptPayload(keyring.all(), buf);
    if (!d.ok) return d;
    plain = d.value;
  }
  return ok(decodePacket(plain));
}

// ---------------------------------------------------------------------------------------
// TCP streams

/** Frame a stream message: compress (always, if enabled) → encrypt. */
export function encodeStream(inner: Uint8Array, opts: PacketOptions = {}): Uint8Array {
  let buf = inner;
  if (opts.compress === true) buf = encodeCompress(buf);
  const key = opts.keyring?.primary();
  if (key !== undefined) {
    const total = buf.length + ENCRYPT_OVERHEAD;
    const hdr = new Uint8Array(5);
    hdr[0] = MSG.encrypt;
    new DataView(hdr.buffer).setUint32(1, total);
    const blob = encryptPayload(key, buf, hdr);
    const out = new Uint8Array(5 + blob.length);
    out.set(hdr);
    out.set(blob, 5);
    buf = out;
  }
  return buf;
}

/**
 * How many bytes form one complete stream message at the start of `buf`:
 * `ok(0)` = need more input, `ok(n)` = complete, error = malformed / too large.
 */
export function streamFrameLength(buf: Uint8Array, maxSize = MAX_STREAM_SIZE): Result<number> {
  if (buf.length === 0) return ok(0);
  const t = buf[0] as number;
  const more = (r: Result<unknown>): Result<number> => (!r.ok && r.error === TRUNCATED ? ok(0) : err(r.ok ? '' : r.error));
  switch (t) {
    case MSG.encrypt: {
      if (buf.length < 5) return ok(0);
      const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
      if (n > maxSize) return err('stream: encrypted message too large');
      return buf.length >= 5 + n ? ok(5 + n) : ok(0);
    }
    case MSG.compress:
    case MSG.ping:
    case MSG.ack:
    case MSG.err: {
      const r = decodeMap(buf, 1);
      return r.ok ? ok(r.value.end) : more(r);
    }
    case MSG.user: {
      const r = decodeMap(buf, 1);
      if (!r.ok) return more(r);
      const len = getUint(r.value.value, 'UserMsgLen');
      if (len === undefined || len > maxSize) return err('stream: bad user message header');
      return buf.length >= r.value.end + len ? ok(r.value.end + len) : ok(0);
    }
    case MSG.pushPull: {
      const h = decodeMap(buf, 1);
      if (!h.ok) return more(h);
      const nodes = getUint(h.value.value, 'Nodes');
      const usl = getUint(h.value.value, 'UserStateLen');
      if (nodes === undefined || usl === undefined || usl > maxSize || nodes > maxSize) return err('stream: bad push/pull header');
      let o = h.value.end;
      for (let i = 0; i < nodes; i++) {
        const s = decodeMap(buf, o);
        if (!s.ok) return more(s);
        o = s.value.end;
      }
      return buf.length >= o + usl ? ok(o + usl) : ok(0);
    }
    default:
      return err(`stream: unexpected message type ${t}`);
  }
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

/** Decode one complete stream message (decrypting and decompressing as needed). */
export function decodeStream(buf: Uint8Array, keyring?: Keyring, depth = 0): Result<StreamMessage> {
  if (buf.length === 0) return err('stream: empty');
  if (depth > 2) return err('stream: nesting too deep');
  const t = buf[0] as number;
  if (keyring !== undefined && keyring.enabled && depth === 0 && t !== MSG.encrypt)
    return err('stream: encryption is configured but stream is not encrypted');
  switch (t) {
    case MSG.encrypt: {
      if (keyring === undefined || !keyring.enabled) return err('stream: encrypted but no keyring');
      if (buf.length < 5) return err('stream: truncated');
      const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
      if (buf.length < 5 + n) return err('stream: truncated');
      const d = decryptPayload(keyring.all(), buf.subarray(5, 5 + n), buf.subarray(0, 5));
      return d.ok ? decodeStream(d.value, keyring, depth + 1) : d;
    }
    case MSG.compress: {
      const d = decodeCompress(buf, 1, MAX_STREAM_SIZE);
      return d.ok ? decodeStream(d.value.inner, keyring, depth + 1) : d;
    }
    case MSG.ping: {
      const b = decodeBody(buf);
      if (!b.ok) return b;
      const p = decodePingBody(b.value);
      return p.ok ? ok({ kind: 'ping', msg: p.value }) : p;
    }
    case MSG.ack: {
      const b = decodeBody(buf);
      if (!b.ok) return b;
      const p = decodeAckBody(b.value);
      return p.ok ? ok({ kind: 'ack', msg: p.value }) : p;
    }
    case MSG.err: {
      const b = decodeBody(buf);
      if (!b.ok) return b;
      const e = getStr(b.value, 'Error');
      return ok({ kind: 'err', error: e ?? 'unknown remote error' });
    }
    case MSG.user: {
      const h = decodeMap(buf, 1);
      if (!h.ok) return h;
      const len = getUint(h.value.value, 'UserMsgLen');
      if (len === undefined || h.value.end + len > buf.length) return err('stream: bad user message');
      return ok({ kind: 'user', payload: buf.slice(h.value.end, h.value.end + len) });
    }
    case MSG.pushPull: {
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
      return ok({ kind: 'pushPull', msg: { join, nodes: states, userState: buf.slice(o, o + usl) } });
    }
    default:
      return err(`stream: unexpected message type ${t}`);
  }
}

// ---------------------------------------------------------------------------------------
// serf-layer helpers (spec §10)

/** serf tags: `0xFF ‖ msgpack map[string]string`. */
export function encodeTags(tags: Readonly<Record<string, string>>): Uint8Array {
  const w = new Writer(128);
  w.u8(0xff);
  writeValue(w, tags);
  return w.result();
}

export function decodeTags(meta: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  if (meta.length === 0 || meta[0] !== 0xff) {
    out['role'] = new TextDecoder().decode(meta);
    return out;
  }
  const r = decodeMap(meta, 1);
  if (!r.ok) return out;
  for (const [k, v] of r.value.value) if (v instanceof Uint8Array) out[k] = new TextDecoder().decode(v);
  return out;
}

export const SERF_MSG = { leave: 0, join: 1, pushPull: 2 } as const;

/** serf leave intent as a memberlist user message: `08 00 {LTime, Node, Prune}`. */
export function encodeSerfLeaveIntent(ltime: number, node: string): Uint8Array {
  const w = new Writer(64);
  w.u8(MSG.user);
  w.u8(SERF_MSG.leave);
  writeValue(w, { LTime: ltime, Node: node, Prune: false });
  return w.result();
}

/** Extract a Lamport time from a serf message (user payload or push/pull user state). */
export function serfLTime(payload: Uint8Array): number | undefined {
  if (payload.length < 2) return undefined;
  const t = payload[0] as number;
  if (t > 9) return undefined;
  const r = decodeMap(payload, 1);
  if (!r.ok) return undefined;
  const lt = getUint(r.value.value, 'LTime');
  return lt === undefined || lt === 0 ? undefined : lt;
}

export const utf8 = textEncode;
