/**
 * Codecs of single memberlist messages (spec §4): ping, indirect ping, ack, nack, alive,
 * suspect, dead, user and err, each `type byte ‖ msgpack map with Go field names`. Decoders
 * return a Result and never throw.
 */
import {
  decodeMap,
  encodeWithType,
  getBool,
  getBytes,
  getStr,
  getUint,
  type MpMap,
} from './msgpack.ts';
import { err, ok, type Result } from '@weft/net';
import { MSG, type Ack, type Alive, type Dead, type IndirectPing, type Message, type Nack, type Ping, type Suspect } from './types.ts';

// ---------------------------------------------------------------------------------------
// Encoders

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

// ---------------------------------------------------------------------------------------
// Decoders

export const bad = (what: string) => err<never>(`bad ${what} message`);

export function decodeBody(buf: Uint8Array): Result<MpMap> {
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

export function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  for (let i = from; i < to; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h;
}

/** `a` equals `b[from, to)`. */
export function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  if (a.length !== to - from) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[from + i]) return false;
  return true;
}

export const cacheable = (t: number, len: number): boolean =>
  (t === MSG.alive || t === MSG.suspect || t === MSG.dead) && len <= DECODE_CACHE_MAX_LEN;

/** Cached decode of `buf[from, to)` (a cacheable message type), or undefined. */
export function cachedDecode(buf: Uint8Array, from: number, to: number, h: number): Result<Message> | undefined {
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
