/**
 * Join tokens: `WFTTKN-1-<digest>-<secret>`.
 *
 * - `digest` pins the manager's Ed25519 public key: lower-case base32 of BLAKE2b-256(public key),
 *   52 characters. A joiner refuses a manager whose key hashes to anything else (the analogue of
 *   SWMTKN's CA digest).
 * - `secret` is 26 base32 characters (128 random bits); worker and manager tokens have different
 *   secrets, and `join-token --rotate` replaces one of them. The secret never crosses the wire:
 *   the joiner proves knowledge of it with a keyed hash over the handshake transcript.
 */
import { errors, raise } from '@weft/kernel';
import { base32, isBase32, sodium, utf8 } from './util.ts';

export const TOKEN_PREFIX = 'WFTTKN';
export const TOKEN_VERSION = '1';
const DIGEST_LEN = 52;
const SECRET_LEN = 26;

export interface ParsedToken {
  readonly digest: string;
  readonly secret: string;
}

/** base32(BLAKE2b-256(pk)) */
export function keyDigest(publicKey: Uint8Array): string {
  return base32(sodium.crypto_generichash(32, publicKey, null));
}

export function newSecret(): string {
  return base32(sodium.randombytes_buf(16));
}

export function formatToken(managerPublicKey: Uint8Array, secret: string): string {
  return `${TOKEN_PREFIX}-${TOKEN_VERSION}-${keyDigest(managerPublicKey)}-${secret}`;
}

const EXPECTED = `expected ${TOKEN_PREFIX}-${TOKEN_VERSION}-<52-character key digest>-<26-character secret>, as printed by "weft swarm join-token"`;

/** Parses a token or throws BadRequest saying what is wrong, without echoing the secret. */
export function parseToken(token: string, plugin = 'control'): ParsedToken {
  const bad = (why: string): never =>
    raise(errors.badRequest(plugin, `Token is malformed: ${why}; ${EXPECTED}`, { code: 'WEFT_CONTROL_BAD_TOKEN' }));
  const parts = token.trim().split('-');
  if (parts.length !== 4) bad(`it has ${parts.length} dash-separated parts, not 4`);
  const [prefix, version, digest, secret] = parts as [string, string, string, string];
  if (prefix !== TOKEN_PREFIX) bad(`it starts with ${JSON.stringify(prefix.slice(0, 10))}`);
  if (version !== TOKEN_VERSION) bad(`version ${JSON.stringify(version.slice(0, 4))} is not supported`);
  if (digest.length !== DIGEST_LEN || !isBase32(digest)) bad('the key digest is not 52 base32 characters');
  if (secret.length !== SECRET_LEN || !isBase32(secret)) bad('the secret is not 26 base32 characters');
  return { digest, secret };
}

/** The 32-byte key used to prove knowledge of a secret: BLAKE2b-256("weft-token-secret" ‖ secret). */
export function secretKey(secret: string): Uint8Array {
  return sodium.crypto_generichash(32, utf8(`weft-token-secret:${secret}`), null);
}
