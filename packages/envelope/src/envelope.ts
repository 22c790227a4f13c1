/**
 * The envelope and its derivations (normative text: plugins/datapath/sodium/WIRE.md and
 * docs/wire.md).
 *
 *   0      4              12                      12+n      12+n+16
 *   | SPI  | seq (u64 BE) | ciphertext (n bytes)  | tag (16) |
 *
 * The 12-byte header is, byte for byte, the AEAD nonce and the additional data. Per
 * (epoch, src → dst) an SA key and an SPI are derived from the data key with the suite's keyed
 * PRF (BLAKE2b for @weft/sodium, HMAC-SHA-256 for @weft/aes-gcm) under the suite's labels, so each
 * direction has its own key and its own nonce space.
 */
import { CIPHER_MAX_PLAINTEXT, VXLAN_FLAGS_WORD } from '@weft/kernel';

/** AEAD sizes every suite shares: 256-bit key, 96-bit nonce (the header), 128-bit tag. */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Largest plaintext one packet may carry (the kernel contract's `CIPHER_MAX_PLAINTEXT`). */
export const MAX_PLAINTEXT = CIPHER_MAX_PLAINTEXT;

/**
 * The AEAD and PRF of one suite, behind one small interface; everything else in this package is
 * suite-agnostic. Hot path: `seal`/`open` per packet, into caller buffers.
 */
export interface Aead {
  /** Backend name (`sodium-native`, `libsodium-wrappers`, `node:crypto`, ...). */
  readonly name: string;
  /** How the backend runs (`native`, `wasm-heap`, `api`, ...). */
  readonly mode: string;
  /**
   * Writes AEAD(key, nonce, ad = nonce)(src[0..len)) ‖ tag into out[outOff..outOff+len+16).
   * `nonce` is 12 bytes and doubles as the additional data (the envelope header IS the nonce).
   * `src` and `out` must not overlap.
   */
  seal(out: Uint8Array, outOff: number, src: Uint8Array, len: number, nonce: Uint8Array, key: Uint8Array): void;
  /** Opens src[srcOff..srcOff+clen) (ciphertext ‖ tag) into out[0..clen-16); false when the tag fails (then `out` is unspecified). */
  open(out: Uint8Array, src: Uint8Array, srcOff: number, clen: number, nonce: Uint8Array, key: Uint8Array): boolean;
  /** Keyed PRF of `msg` into `out` (32 bytes); key 16..64 bytes. Control path only. */
  hash(out: Uint8Array, msg: Uint8Array, key: Uint8Array): void;
  /** Zeroes scratch memory that held keys. */
  wipe(): void;
}

/** Derivation labels of a suite (ASCII); distinct per suite so one data key never yields the same SA key in two. */
export interface Labels {
  readonly saKey: string;
  readonly spi: string;
  readonly spiKey: string;
}

export const SPI_BYTES = 4;
export const SEQ_BYTES = 8;
export const HEADER_BYTES = SPI_BYTES + SEQ_BYTES;
export const OVERHEAD = HEADER_BYTES + TAG_BYTES;

/** Data keys must be usable as BLAKE2b keys (16..64 bytes); 32 is what KeyManager makes. */
export const DATA_KEY_MIN = 16;
export const DATA_KEY_MAX = 64;

const utf8 = new TextEncoder();

/** label ‖ 0x00 ‖ epoch (u64 BE) ‖ len(src) (u16 BE) ‖ src ‖ len(dst) (u16 BE) ‖ dst — unambiguous for any strings. */
export function saInfo(label: string, epoch: number, src: string, dst: string): Uint8Array {
  const l = utf8.encode(label);
  const s = utf8.encode(src);
  const d = utf8.encode(dst);
  if (s.length > 0xffff || d.length > 0xffff) throw new Error('envelope: peer identifiers longer than 65535 bytes');
  const b = new Uint8Array(l.length + 1 + 8 + 2 + s.length + 2 + d.length);
  const v = new DataView(b.buffer);
  b.set(l, 0);
  let o = l.length + 1;
  v.setBigUint64(o, BigInt(epoch));
  o += 8;
  v.setUint16(o, s.length);
  b.set(s, o + 2);
  o += 2 + s.length;
  v.setUint16(o, d.length);
  b.set(d, o + 2);
  return b;
}

/** One-way key used only to compute SPIs; kept after its data key retires so late packets read `oldKey`. */
export function spiKey(aead: Aead, labels: Labels, dataKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  aead.hash(out, utf8.encode(labels.spiKey), dataKey);
  return out;
}

/** The per-direction AEAD key: PRF(key = data key, info(labels.saKey, epoch, src, dst)). */
export function saKey(aead: Aead, labels: Labels, dataKey: Uint8Array, epoch: number, src: string, dst: string): Uint8Array {
  const out = new Uint8Array(KEY_BYTES);
  aead.hash(out, saInfo(labels.saKey, epoch, src, dst), dataKey);
  return out;
}

/**
 * SPI: first 4 bytes (BE) of PRF(key = spiKey, info(labels.spi, epoch, src, dst)),
 * with values 0..255 (reserved by RFC 4303 §2.1) moved up by 256.
 */
export function spiOf(aead: Aead, labels: Labels, spiK: Uint8Array, epoch: number, src: string, dst: string): number {
  const out = new Uint8Array(32);
  aead.hash(out, saInfo(labels.spi, epoch, src, dst), spiK);
  return normalizeSpi(((out[0]! << 24) | (out[1]! << 16) | (out[2]! << 8) | out[3]!) >>> 0);
}

/**
 * Maps a raw 32-bit hash to an SPI: 0..255 are reserved (RFC 4303 §2.1), and 08 00 00 00 — the
 * first word of a plaintext VXLAN header — is skipped so a data path that drops plaintext VXLAN on
 * encrypted networks can never mistake a sealed datagram for one.
 */
export function normalizeSpi(raw: number): number {
  if (raw < 256) return raw + 256;
  if (raw === VXLAN_HEADER_WORD) return raw + 1;
  return raw;
}

/** The first 32-bit word of every RFC 7348 VXLAN header (flags 0x08, reserved zeros). */
export const VXLAN_HEADER_WORD = VXLAN_FLAGS_WORD;

export function validEpoch(epoch: number): boolean {
  return Number.isSafeInteger(epoch) && epoch >= 0;
}

/** Initial tx sequence number: wall-clock ms × 2^22 (see WIRE.md, "Sequence numbers"). As [hi, lo]. */
export function seedSeq(nowMs: number): [number, number] {
  const ms = Math.max(0, Math.floor(nowMs));
  // ms * 2^22 = (ms >> 10) * 2^32 + (ms & 1023) * 2^22
  return [Math.floor(ms / 1024) >>> 0, ((ms % 1024) * 4194304) >>> 0];
}
