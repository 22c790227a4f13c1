/**
 * The on-disk encodings (format 1). Everything is little-endian except revision keys, which are
 * big-endian so that LMDB's byte order is numeric order.
 *
 * - `kv` value (a record): createRevision, modRevision, version, lease as float64 (integers below
 *   2^53), then the value bytes.
 * - `log` key: the revision (u64 BE); value: u32 event count, then per event u8 type (1 put,
 *   2 delete), u32 key length + UTF-8 key, u32 length + the record before this event (0xffffffff:
 *   the key did not exist), and for a put u32 length + the record it wrote. The previous records let
 *   a read at an old revision undo newer entries; the new ones let a watch replay history.
 */
import type { KeyValue, WatchEvent } from '@weft/kernel';

export const FORMAT = 1;
const HEADER = 32;
const NONE = 0xffffffff;

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

export const keyBytes = (key: string): Uint8Array => te.encode(key);
export const keyString = (b: Uint8Array): string => td.decode(b);

/** Revision as an 8-byte big-endian key. */
export function revKey(rev: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(rev / 0x100000000));
  v.setUint32(4, rev >>> 0);
  return b;
}
export function revOf(key: Uint8Array): number {
  const v = new DataView(key.buffer, key.byteOffset, 8);
  return v.getUint32(0) * 0x100000000 + v.getUint32(4);
}

export interface RecordFields {
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

export function encodeRecord(f: RecordFields, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(HEADER + value.length);
  const v = new DataView(b.buffer);
  v.setFloat64(0, f.createRevision, true);
  v.setFloat64(8, f.modRevision, true);
  v.setFloat64(16, f.version, true);
  v.setFloat64(24, f.lease, true);
  b.set(value, HEADER);
  return b;
}

/** The header fields only (for compares and the lease index): no copy of the value. */
export function recordFields(b: Uint8Array): RecordFields {
  if (b.length < HEADER) throw new RangeError(`record of ${b.length} bytes is shorter than its ${HEADER}-byte header`);
  const v = new DataView(b.buffer, b.byteOffset, HEADER);
  return { createRevision: v.getFloat64(0, true), modRevision: v.getFloat64(8, true), version: v.getFloat64(16, true), lease: v.getFloat64(24, true) };
}

/** A KeyValue with its own copy of the value (a plain Uint8Array, never the database's buffer). */
export function decodeRecord(key: string, b: Uint8Array): KeyValue {
  const f = recordFields(b);
  const value = new Uint8Array(b.length - HEADER);
  value.set(b.subarray(HEADER));
  return { key, value, createRevision: f.createRevision, modRevision: f.modRevision, version: f.version, lease: f.lease };
}

export const recordValueEquals = (b: Uint8Array, value: Uint8Array): boolean => {
  if (b.length - HEADER !== value.length) return false;
  for (let i = 0; i < value.length; i++) if (b[HEADER + i] !== value[i]) return false;
  return true;
};

export interface Change {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly keyBytes: Uint8Array;
  /** The record before this change; undefined: the key did not exist. */
  readonly prev: Uint8Array | undefined;
  /** The record a put wrote. */
  readonly next: Uint8Array | undefined;
}

export function encodeEntry(changes: readonly Change[]): Uint8Array {
  let size = 4;
  for (const c of changes) size += 1 + 4 + c.keyBytes.length + 4 + (c.prev?.length ?? 0) + (c.type === 'put' ? 4 + c.next!.length : 0);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  let o = 0;
  v.setUint32(o, changes.length, true);
  o += 4;
  const bytes = (x: Uint8Array | undefined) => {
    if (x === undefined) {
      v.setUint32(o, NONE, true);
      o += 4;
      return;
    }
    v.setUint32(o, x.length, true);
    b.set(x, o + 4);
    o += 4 + x.length;
  };
  for (const c of changes) {
    b[o++] = c.type === 'put' ? 1 : 2;
    bytes(c.keyBytes);
    bytes(c.prev);
    if (c.type === 'put') bytes(c.next);
  }
  return b;
}

export function decodeEntry(b: Uint8Array): Change[] {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let o = 0;
  const need = (n: number) => {
    if (o + n > b.length) throw new RangeError(`history entry truncated at byte ${o} (needs ${n} more of ${b.length})`);
  };
  const bytes = (): Uint8Array | undefined => {
    need(4);
    const n = v.getUint32(o, true);
    o += 4;
    if (n === NONE) return undefined;
    need(n);
    const x = b.subarray(o, o + n);
    o += n;
    return x;
  };
  need(4);
  const count = v.getUint32(0, true);
  o = 4;
  const out: Change[] = [];
  for (let i = 0; i < count; i++) {
    need(1);
    const t = b[o++];
    if (t !== 1 && t !== 2) throw new RangeError(`history entry has an unknown change type ${t} at byte ${o - 1}`);
    const kb = bytes();
    if (kb === undefined) throw new RangeError('history entry has a change without a key');
    const prev = bytes();
    const next = t === 1 ? bytes() : undefined;
    if (t === 1 && next === undefined) throw new RangeError('history entry has a put without its record');
    out.push({ type: t === 1 ? 'put' : 'delete', key: keyString(kb), keyBytes: kb, prev, next });
  }
  if (o !== b.length) throw new RangeError(`history entry has ${b.length - o} trailing bytes`);
  return out;
}

/** The watch events of a committed revision (fresh objects and values each call). */
export function eventsOf(changes: readonly Change[], rev: number, prefix: string): WatchEvent[] {
  const out: WatchEvent[] = [];
  for (const c of changes) {
    if (!c.key.startsWith(prefix)) continue;
    if (c.type === 'put') out.push({ type: 'put', kv: decodeRecord(c.key, c.next!) });
    else out.push({ type: 'delete', kv: { key: c.key, value: new Uint8Array(0), createRevision: 0, modRevision: rev, version: 0, lease: 0 } });
  }
  return out;
}

/** Byte order of two encoded keys (LMDB's order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The first key after every key that starts with `prefix` (undefined: no such key, range to the end). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const e = prefix.slice();
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i]! < 0xff) {
      e[i] = e[i]! + 1;
      return e.subarray(0, i + 1);
    }
  }
  return undefined;
}
