/**
 * Manager-side key-ring handling, pure: the control plane owns a `ManagedRing`, rotates it, and
 * ships `toKeyRing(ring)` to every node, which calls `cipher.setKeyRing`. Independent of the
 * cipher in use: data keys are random bytes; each cipher derives its own SA keys from them.
 *
 * Rules (SwarmKit's KeyManager, hardened against swarmkit#1954):
 * - at most three keys, oldest first; the primary (send) key is the middle one — the
 *   second newest — so the newest key is installed for receive one rotation before anyone sends
 *   with it, and the previous primary stays for laggards;
 * - a rotation appends a key with epoch = newest epoch + 1 and drops the oldest;
 * - `rotation` counts rotations; `rotate(ring, key, expected)` applies only when `ring.rotation`
 *   equals `expected`, so a rotation request replayed (leader change, retry) is a no-op instead of
 *   a double rotation that would push a node's only common key out of the ring.
 */
import type { DataKey, KeyRing } from './contracts/cipher.ts';

export const DATA_KEY_BYTES = 32;

export interface ManagedRing {
  /** Oldest first, at most three. */
  readonly keys: readonly DataKey[];
  /** Rotations applied so far. */
  readonly rotation: number;
}

/** A fresh 32-byte data key from the platform CSPRNG (`crypto.getRandomValues`, Node and Deno). */
export function generateDataKey(epoch: number): DataKey {
  return { epoch, key: crypto.getRandomValues(new Uint8Array(DATA_KEY_BYTES)) };
}

/** Index of the primary key for a ring of `n` keys (oldest first): the second newest, or the only key. */
export function primaryIndex(n: number): number {
  return n >= 2 ? n - 2 : 0;
}

/**
 * Bootstrap: three keys (epochs start, start+1, start+2), primary = middle. Every node must
 * receive this ring before anything is sent.
 */
export function initialRing(start = 1, generate: (epoch: number) => DataKey = generateDataKey): ManagedRing {
  return { keys: [generate(start), generate(start + 1), generate(start + 2)], rotation: 0 };
}

export function newestEpoch(ring: ManagedRing): number {
  return ring.keys.reduce((m, k) => Math.max(m, k.epoch), -1);
}

/**
 * One rotation: drop the oldest, append `key` (or a fresh key with the next epoch), primary moves
 * to the new middle key. With `expectedRotation`, a request for a rotation already applied
 * returns the ring unchanged (idempotent); so does a key whose epoch is not newer.
 */
export function rotate(ring: ManagedRing, key?: DataKey, expectedRotation?: number): ManagedRing {
  if (expectedRotation !== undefined && expectedRotation !== ring.rotation) return ring;
  const next = key ?? generateDataKey(newestEpoch(ring) + 1);
  if (next.epoch <= newestEpoch(ring)) return ring;
  return { keys: [...ring.keys, next].slice(-3), rotation: ring.rotation + 1 };
}

/** The ring as the `cipher` contract wants it. */
export function toKeyRing(ring: ManagedRing): KeyRing {
  return { keys: ring.keys, primary: primaryIndex(ring.keys.length) };
}
