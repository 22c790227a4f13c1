/**
 * TCP stream framing (spec §6): compress and encrypt wrappers, the length of one complete
 * message at the head of a stream, and decoding of ping, ack, err, user and push/pull.
 */
import { ENCRYPT_OVERHEAD, decryptPayload, encryptPayload, type Keyring } from './crypto.ts';
import { decodeMap, getStr, getUint, TRUNCATED, Writer, writeValue } from './msgpack.ts';
import { err, ok, type Result } from '@weft/net';
import { decodeAckBody, decodeBody, decodePingBody } from './codec.ts';
import { decodeCompress, encodeCompress, type PacketOptions } from './packet.ts';
import { decodePushPull } from './pushpull.ts';
import { MAX_STREAM_SIZE, MSG, type StreamMessage } from './types.ts';

/** TCP user message: `08 ‖ {UserMsgLen} ‖ payload`. */
export function encodeStreamUser(payload: Uint8Array): Uint8Array {
  const w = new Writer(payload.length + 32);
  w.u8(MSG.user);
  writeValue(w, { UserMsgLen: payload.length });
  w.raw(payload);
  return w.result();
}

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

const NOT_ENCRYPTED = 'stream: encryption is configured but stream is not encrypted';

/**
 * Whether a `decodeStream` error means "no valid key": plaintext while a keyring is set, or no
 * installed key opens it (never the case without a keyring), rather than a malformed stream.
 */
export function isKeyError(error: string): boolean {
  return error === NOT_ENCRYPTED || error.startsWith('encrypt:');
}

/** Decode one complete stream message (decrypting and decompressing as needed). */
export function decodeStream(buf: Uint8Array, keyring?: Keyring, depth = 0): Result<StreamMessage> {
  if (buf.length === 0) return err('stream: empty');
  if (depth > 2) return err('stream: nesting too deep');
  const t = buf[0] as number;
  if (keyring !== undefined && keyring.enabled && depth === 0 && t !== MSG.encrypt)
    return err(NOT_ENCRYPTED);
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
      const p = decodePushPull(buf);
      return p.ok ? ok({ kind: 'pushPull', msg: p.value }) : p;
    }
    default:
      return err(`stream: unexpected message type ${t}`);
  }
}
