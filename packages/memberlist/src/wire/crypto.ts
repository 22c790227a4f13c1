/**
 * memberlist's AES-GCM encryption wrapper (spec §7), vsn 1 (no padding):
 * `vsn(1) ‖ nonce(12) ‖ ciphertext ‖ tag(16)`. UDP has no AAD; TCP streams use the
 * 5-byte `0a ‖ len:u32` header as AAD. Keys are 16/24/32 bytes (AES-128/192/256).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { err, ok, type Result } from '@weft/net';

export const ENCRYPTION_VERSION = 1;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const ENCRYPT_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE;

function algo(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | undefined {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      return undefined;
  }
}

export function validKey(key: Uint8Array): boolean {
  return algo(key) !== undefined;
}

export function encryptPayload(key: Uint8Array, plain: Uint8Array, aad?: Uint8Array): Uint8Array {
  const a = algo(key);
  if (a === undefined) throw new Error('invalid key length');
  const nonce = randomBytes(NONCE_SIZE);
  const c = createCipheriv(a, key, nonce);
  if (aad !== undefined) c.setAAD(aad);
  const body = c.update(plain);
  c.final();
  const tag = c.getAuthTag();
  const out = new Uint8Array(ENCRYPT_OVERHEAD + body.length);
  out[0] = ENCRYPTION_VERSION;
  out.set(nonce, 1);
  out.set(body, 1 + NONCE_SIZE);
  out.set(tag, 1 + NONCE_SIZE + body.length);
  return out;
}

export function decryptPayload(keys: readonly Uint8Array[], blob: Uint8Array, aad?: Uint8Array): Result<Uint8Array> {
  if (blob.length < ENCRYPT_OVERHEAD) return err('encrypt: payload too small');
  if (blob[0] !== ENCRYPTION_VERSION) return err(`encrypt: unsupported version ${String(blob[0])}`);
  const nonce = blob.subarray(1, 1 + NONCE_SIZE);
  const body = blob.subarray(1 + NONCE_SIZE, blob.length - TAG_SIZE);
  const tag = blob.subarray(blob.length - TAG_SIZE);
  for (const key of keys) {
    const a = algo(key);
    if (a === undefined) continue;
    try {
      const d = createDecipheriv(a, key, nonce);
      d.setAuthTag(tag);
      if (aad !== undefined) d.setAAD(aad);
      const p1 = d.update(body);
      const p2 = d.final();
      const out = new Uint8Array(p1.length + p2.length);
      out.set(p1);
      out.set(p2, p1.length);
      return ok(out);
    } catch {
      // wrong key: try the next one
    }
  }
  return err('encrypt: no installed key could decrypt the message');
}

/** A mutable keyring: keys[0] is the primary (used for encryption). */
export class Keyring {
  private keys: Uint8Array[] = [];
  constructor(keys: readonly Uint8Array[] = []) {
    for (const k of keys) this.install(k);
  }
  get enabled(): boolean {
    return this.keys.length > 0;
  }
  all(): readonly Uint8Array[] {
    return this.keys;
  }
  primary(): Uint8Array | undefined {
    return this.keys[0];
  }
  install(key: Uint8Array): void {
    if (!validKey(key)) throw new Error('key must be 16, 24 or 32 bytes');
    if (this.keys.some((k) => eq(k, key))) return;
    this.keys.push(Uint8Array.from(key));
  }
  use(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => eq(k, key));
    if (i < 0) throw new Error('key not installed');
    const [k] = this.keys.splice(i, 1);
    if (k !== undefined) this.keys.unshift(k);
  }
  remove(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => eq(k, key));
    if (i === 0) throw new Error('cannot remove the primary key');
    if (i > 0) this.keys.splice(i, 1);
  }
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
