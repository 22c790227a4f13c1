/**
 * Minimal msgpack codec for the go-msgpack dialect used by memberlist.
 *
 * Decoding: msgpack `str` *and* `bin` values are returned as `Uint8Array` (Go writes
 * `[]byte` fields with the str family, so text decoding would corrupt them). Map keys are
 * decoded as UTF-8 strings. The decoder never throws: it returns a `Result`, and bounds
 * every length against the remaining input, so hostile input cannot trigger large
 * allocations. Truncated input yields the error `TRUNCATED` (used by stream framing).
 *
 * Encoding: maps with string keys (sorted, like Go), strings and byte arrays in the
 * fixstr/str16/str32 family (Go never writes str8 or bin), `undefined` map values skipped.
 */
import { err, ok, type Result } from '@weft/net';

export type MpValue = null | boolean | number | Uint8Array | MpValue[] | MpMap;
export type MpMap = Map<string, MpValue>;

export const TRUNCATED = 'truncated';
const MAX_DEPTH = 32;

const utf8d = new TextDecoder('utf-8', { fatal: false });
const utf8e = new TextEncoder();

export interface Decoded<T> {
  readonly value: T;
  /** Offset just after the decoded value. */
  readonly end: number;
}

class DecodeError {
  readonly msg: string;
  constructor(msg: string) {
    this.msg = msg;
  }
}

/** Decode one msgpack value starting at `offset`. */
export function decodeValue(buf: Uint8Array, offset = 0): Result<Decoded<MpValue>> {
  const r = new Reader(buf, offset);
  try {
    const value = r.value(0);
    return ok({ value, end: r.pos });
  } catch (e) {
    if (e instanceof DecodeError) return err(e.msg);
    return err(`msgpack: ${String(e)}`);
  }
}

/** Decode one value and require it to be a map. */
export function decodeMap(buf: Uint8Array, offset = 0): Result<Decoded<MpMap>> {
  const r = decodeValue(buf, offset);
  if (!r.ok) return r;
  if (!(r.value.value instanceof Map)) return err('msgpack: expected map');
  return ok({ value: r.value.value, end: r.value.end });
}

/** Length in bytes of the msgpack value at `offset` (without building it). */
export function skipValue(buf: Uint8Array, offset = 0): Result<number> {
  const r = decodeValue(buf, offset);
  return r.ok ? ok(r.value.end) : r;
}

// Interned map keys: decoding builds no new strings for the few field names memberlist
// uses (bounded; a hash collision or a full table just builds the string).
const keyIntern = new Map<number, string>();
export function asciiKey(buf: Uint8Array, at: number, len: number): string | undefined {
  let h = len;
  for (let j = 0; j < len; j++) {
    const c = buf[at + j] as number;
    if (c > 0x7e || c < 0x20) return undefined;
    h = (Math.imul(h, 31) + c) | 0;
  }
  const hit = keyIntern.get(h);
  if (hit !== undefined && hit.length === len) {
    let same = true;
    for (let j = 0; j < len; j++)
      if (hit.charCodeAt(j) !== buf[at + j]) {
        same = false;
        break;
      }
    if (same) return hit;
  }
  let key = '';
  for (let j = 0; j < len; j++) key += String.fromCharCode(buf[at + j] as number);
  if (hit === undefined && keyIntern.size < 1024) keyIntern.set(h, key);
  return key;
}

class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;
  constructor(buf: Uint8Array, pos: number) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new DecodeError(TRUNCATED);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  count(n: number, minEach: number): number {
    // Every element needs at least `minEach` bytes: bound counts by remaining input.
    if (n * minEach > this.buf.length - this.pos) throw new DecodeError(TRUNCATED);
    return n;
  }
  array(n: number, depth: number): MpValue[] {
    this.count(n, 1);
    const out: MpValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
    return out;
  }
  map(n: number, depth: number): MpMap {
    this.count(n, 2);
    const out: MpMap = new Map();
    for (let i = 0; i < n; i++) {
      // fast path: short fixstr ASCII keys (every memberlist field name)
      const kb = this.buf[this.pos];
      if (kb !== undefined && (kb & 0xe0) === 0xa0) {
        const len = kb & 0x1f;
        if (this.pos + 1 + len <= this.buf.length) {
          const key = asciiKey(this.buf, this.pos + 1, len);
          if (key !== undefined) {
            this.pos += 1 + len;
            out.set(key, this.value(depth + 1));
            continue;
          }
        }
      }
      const k = this.value(depth + 1);
      let key: string;
      if (k instanceof Uint8Array) key = utf8d.decode(k);
      else if (typeof k === 'number' || typeof k === 'boolean') key = String(k);
      else throw new DecodeError('msgpack: unsupported map key');
      out.set(key, this.value(depth + 1));
    }
    return out;
  }
  ext(n: number): null {
    this.need(n + 1);
    this.pos += n + 1;
    return null;
  }
  value(depth: number): MpValue {
    if (depth > MAX_DEPTH) throw new DecodeError('msgpack: too deep');
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return this.bytes(b & 0x1f);
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f, depth);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.bytes(this.u8());
      case 0xc5:
      case 0xda:
        return this.bytes(this.u16());
      case 0xc6:
      case 0xdb:
        return this.bytes(this.u32());
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const hi = this.u32();
        const lo = this.u32();
        return hi * 0x100000000 + lo;
      }
      case 0xd0: {
        const v = this.u8();
        return v >= 0x80 ? v - 0x100 : v;
      }
      case 0xd1: {
        const v = this.u16();
        return v >= 0x8000 ? v - 0x10000 : v;
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xd3: {
        this.need(8);
        const hi = this.view.getInt32(this.pos);
        const lo = this.view.getUint32(this.pos + 4);
        this.pos += 8;
        return hi * 0x100000000 + lo;
      }
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
      default:
        throw new DecodeError(`msgpack: bad descriptor 0x${b.toString(16)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Field accessors (Go semantics: missing keys and nil keep zero values; wrong types fail).

export function getUint(m: MpMap, key: string): number | undefined {
  const v = m.get(key);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  return undefined;
}
export function getBool(m: MpMap, key: string): boolean | undefined {
  const v = m.get(key);
  if (v === undefined || v === null) return false;
  return typeof v === 'boolean' ? v : undefined;
}
export function getBytes(m: MpMap, key: string): Uint8Array | undefined {
  const v = m.get(key);
  if (v === undefined || v === null) return new Uint8Array(0);
  return v instanceof Uint8Array ? v : undefined;
}
export function getStr(m: MpMap, key: string): string | undefined {
  const b = getBytes(m, key);
  return b === undefined ? undefined : utf8d.decode(b);
}

export const textDecode = (b: Uint8Array): string => utf8d.decode(b);
export const textEncode = (s: string): Uint8Array => utf8e.encode(s);

// ---------------------------------------------------------------------------------------
// Encoder

export type EncValue =
  | null
  | undefined
  | boolean
  | number
  | string
  | Uint8Array
  | readonly EncValue[]
  | { readonly [k: string]: EncValue };

export class Writer {
  buf: Uint8Array;
  view: DataView;
  len = 0;
  /** `into`: write into this buffer (its old contents are overwritten) instead of a new one. */
  constructor(size = 256, into?: Uint8Array) {
    this.buf = into ?? new Uint8Array(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
  }
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeRawHeader(w: Writer, n: number): void {
  if (n < 32) w.u8(0xa0 | n);
  else if (n <= 0xffff) {
    w.u8(0xda);
    w.u16(n);
  } else {
    w.u8(0xdb);
    w.u32(n);
  }
}

function writeInt(w: Writer, v: number): void {
  if (v >= 0) {
    if (v < 128) w.u8(v);
    else if (v < 0x100) {
      w.u8(0xcc);
      w.u8(v);
    } else if (v < 0x10000) {
      w.u8(0xcd);
      w.u16(v);
    } else if (v < 0x100000000) {
      w.u8(0xce);
      w.u32(v);
    } else {
      w.u8(0xcf);
      w.u32(Math.floor(v / 0x100000000));
      w.u32(v >>> 0);
    }
  } else if (v >= -32) w.u8(v & 0xff);
  else if (v >= -128) {
    w.u8(0xd0);
    w.u8(v & 0xff);
  } else if (v >= -32768) {
    w.u8(0xd1);
    w.u16(v & 0xffff);
  } else if (v >= -0x80000000) {
    w.u8(0xd2);
    w.u32(v >>> 0);
  } else {
    w.u8(0xd3);
    const hi = Math.floor(v / 0x100000000);
    w.u32(hi >>> 0);
    w.u32((v - hi * 0x100000000) >>> 0);
  }
}

// Short strings (field names, node names) are cached as encoded bytes.
const strCache = new Map<string, Uint8Array>();
function writeString(w: Writer, v: string): void {
  let b = strCache.get(v);
  if (b === undefined) {
    const enc = utf8e.encode(v);
    const h = new Writer(enc.length + 5);
    writeRawHeader(h, enc.length);
    h.raw(enc);
    b = h.result();
    if (v.length <= 64) {
      if (strCache.size >= 50_000) strCache.clear();
      strCache.set(v, b);
    }
  }
  w.raw(b);
}

export function writeValue(w: Writer, v: EncValue): void {
  if (v === null || v === undefined) w.u8(0xc0);
  else if (typeof v === 'boolean') w.u8(v ? 0xc3 : 0xc2);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) writeInt(w, v);
    else {
      w.u8(0xcb);
      w.reserve(8);
      w.view.setFloat64(w.len, v);
      w.len += 8;
    }
  } else if (typeof v === 'string') {
    writeString(w, v);
  } else if (v instanceof Uint8Array) {
    writeRawHeader(w, v.length);
    w.raw(v);
  } else if (Array.isArray(v)) {
    const a = v as readonly EncValue[];
    if (a.length < 16) w.u8(0x90 | a.length);
    else if (a.length <= 0xffff) {
      w.u8(0xdc);
      w.u16(a.length);
    } else {
      w.u8(0xdd);
      w.u32(a.length);
    }
    for (const x of a) writeValue(w, x);
  } else {
    const o = v as { readonly [k: string]: EncValue };
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    if (keys.length < 16) w.u8(0x80 | keys.length);
    else if (keys.length <= 0xffff) {
      w.u8(0xde);
      w.u16(keys.length);
    } else {
      w.u8(0xdf);
      w.u32(keys.length);
    }
    for (const k of keys) {
      writeValue(w, k);
      writeValue(w, o[k]);
    }
  }
}

export function encode(v: EncValue): Uint8Array {
  const w = new Writer();
  writeValue(w, v);
  return w.result();
}

/** `prefix byte ‖ msgpack(v)` — the common memberlist message shape. */
export function encodeWithType(type: number, v: EncValue): Uint8Array {
  // one scratch buffer for all messages (not re-entrant: writeValue never calls back here)
  const w = scratch;
  w.len = 0;
  w.u8(type);
  writeValue(w, v);
  return w.result();
}
const scratch = new Writer(4096);
