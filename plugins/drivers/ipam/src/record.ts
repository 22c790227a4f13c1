/**
 * The envelope of every persisted record: a 16-byte header, then the payload.
 *
 *   0  "WIPM"        magic
 *   4  u8 version    (1)
 *   5  u8 kind       (1 = subnet meta, 2 = bitmap chunk, 3 = block table)
 *   6  u16 reserved  (0)
 *   8  u32 length    payload bytes
 *  12  u32 crc32     over the key's UTF-8 bytes, header bytes 0..11 and the payload
 *
 * The store's put is atomic, so a record is either whole or absent; the length and checksum
 * still catch a record torn or damaged below the store, and binding the key into the checksum
 * catches a record restored under the wrong key. A bad record is reported, never reset.
 */
import { crc32Parts } from '@weft/net';

export const RECORD_VERSION = 1;
export const RecordKind = { meta: 1, chunk: 2, blocks: 3 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];
const MAGIC = [0x57, 0x49, 0x50, 0x4d];
export const HEADER_BYTES = 16;

const enc = new TextEncoder();

export function encodeRecord(key: string, kind: RecordKind, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out.set(MAGIC, 0);
  out[4] = RECORD_VERSION;
  out[5] = kind;
  const dv = new DataView(out.buffer);
  dv.setUint32(8, payload.length, true);
  out.set(payload, HEADER_BYTES);
  dv.setUint32(12, crc32Parts([enc.encode(key), out.subarray(0, 12), payload]), true);
  return out;
}

/** The payload, or why the record cannot be trusted. */
export function decodeRecord(key: string, kind: RecordKind, bytes: Uint8Array): { ok: true; payload: Uint8Array } | { ok: false; reason: string } {
  if (bytes.length < HEADER_BYTES) return { ok: false, reason: `it is ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header (torn write?)` };
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) return { ok: false, reason: 'it does not start with the "WIPM" magic' };
  if (bytes[4] !== RECORD_VERSION) return { ok: false, reason: `it has format version ${bytes[4]}, this plugin reads version ${RECORD_VERSION}` };
  if (bytes[5] !== kind) return { ok: false, reason: `it holds record kind ${bytes[5]}, expected ${kind}` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(8, true);
  if (bytes.length !== HEADER_BYTES + len) return { ok: false, reason: `its header announces ${len} payload bytes but ${bytes.length - HEADER_BYTES} are present (torn write?)` };
  const payload = bytes.subarray(HEADER_BYTES);
  const want = dv.getUint32(12, true);
  const got = crc32Parts([enc.encode(key), bytes.subarray(0, 12), payload]);
  if (want !== got) return { ok: false, reason: `its checksum is ${hex(got)}, the header says ${hex(want)}` };
  return { ok: true, payload };
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
