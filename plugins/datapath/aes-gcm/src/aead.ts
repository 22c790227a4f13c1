/**
 * AES-256-GCM (NIST SP 800-38D) through node:crypto's synchronous `createCipheriv` /
 * `createDecipheriv`, which Node and Deno both provide (WebCrypto's `subtle` is asynchronous: one
 * promise per packet does not fit a data path that seals in a tight loop). 96-bit nonce = the
 * envelope header, which is also the additional data; 128-bit tag. The PRF for key derivation is
 * HMAC-SHA-256.
 *
 * Per packet node:crypto allocates a cipher context and the ciphertext buffer (its API has no
 * "update into this buffer"); the result is copied once into the caller's buffer. The AES key
 * schedule is computed from a `KeyObject` made once per SA key, not from raw bytes per packet.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { TAG_BYTES, type Aead } from '@weft/envelope';

const ALG = 'aes-256-gcm';

export function nodeAesGcm(): Aead {
  // SA keys are long-lived Uint8Arrays owned by the envelope sessions: one KeyObject each.
  const keys = new WeakMap<Uint8Array, KeyObject>();
  const keyOf = (k: Uint8Array): KeyObject => {
    let o = keys.get(k);
    if (o === undefined) {
      o = createSecretKey(k);
      keys.set(k, o);
    }
    return o;
  };
  return {
    name: 'node:crypto',
    mode: 'aes-256-gcm',
    seal(out, outOff, src, len, nonce, key) {
      const c = createCipheriv(ALG, keyOf(key), nonce, { authTagLength: TAG_BYTES });
      c.setAAD(nonce);
      const body = c.update(len === src.length ? src : src.subarray(0, len));
      const rest = c.final(); // empty for GCM, kept for correctness
      out.set(body, outOff);
      if (rest.length > 0) out.set(rest, outOff + body.length);
      out.set(c.getAuthTag(), outOff + len);
    },
    open(out, src, srcOff, clen, nonce, key) {
      const n = clen - TAG_BYTES;
      const d = createDecipheriv(ALG, keyOf(key), nonce, { authTagLength: TAG_BYTES });
      d.setAAD(nonce);
      d.setAuthTag(src.subarray(srcOff + n, srcOff + clen));
      const body = d.update(src.subarray(srcOff, srcOff + n));
      try {
        d.final(); // throws when the tag does not verify
      } catch {
        return false;
      }
      // Written only after the tag verified: unauthenticated plaintext never reaches `out`.
      out.set(body, 0);
      return true;
    },
    hash(out, msg, key) {
      out.set(createHmac('sha256', key).update(msg).digest().subarray(0, out.length));
    },
    wipe() {},
  };
}
