/**
 * UDP packet framing (spec §3): compound, compress (LZW) and CRC wrappers, and encryption,
 * outgoing and incoming. Decoding is bounded (nesting, messages per packet, one
 * decompression budget per packet) and reports bad parts instead of throwing.
 */
import { decryptPayload, encryptPayload, type Keyring } from './crypto.ts';
import { lzwDecode, lzwEncode } from './lzw.ts';
import { decodeMap, encodeWithType, getBytes, getUint } from './msgpack.ts';
import { crc32, err, ok, type Result } from '@weft/net';
import { bad, cacheable, cachedDecode, decodeMessage, hashBytes } from './codec.ts';
import { MSG, type Message } from './types.ts';

/** Max parts of a compound message. */
export const MAX_COMPOUND = 255;
/** Nesting limit for compound/compress/crc wrappers. */
const MAX_WRAP_DEPTH = 4;
/** Max messages produced from one packet. */
const MAX_PACKET_MESSAGES = 1024;
/** Max decompressed size for a UDP packet (compressed packets are ≤ 64 KiB). */
const MAX_UDP_DECOMPRESSED = 1024 * 1024;

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
