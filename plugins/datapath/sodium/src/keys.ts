/**
 * Manager-side key handling, pure: the manager owns a `ManagedRing`, rotates it, and ships
 * `toKeyRing(ring)` to every node, which calls `cipher.setKeyRing`.
 *
 * Rules (SwarmKit's KeyManager, anchors §B.5, hardened against swarmkit#1954):
 * - at most three keys, oldest first; the primary (send) key is the middle one — the
 *   second newest — so the newest key is installed for receive one rotation before anyone sends
 *   with it, and the previous primary stays for laggards;
 * - a rotation appends a key with epoch = newest epoch + 1 and drops the oldest;
 * - `rotation` counts rotations; `rotate(ring, key, expected)` applies only when `ring.rotation`
 *   equals `expected`, so a rotation request replayed (leader change, retry) is a no-op instead of
 *   a double rotation that would push a node's only common key out of the ring.
 */
import sodium from 'libsodium-wrappers';
import type { DataKey, KeyRing } from '@weft/kernel';

await sodium.ready;

export const DATA_KEY_BYTES = 32;

export interface ManagedRing {
  /** Oldest first, at most three. */
  readonly keys: readonly DataKey[];
  /** Rotations applied so far. */
  readonly rotation: number;
}

/** A fresh 32-byte data key from libsodium's CSPRNG. */
export function generateDataKey(epoch: number): DataKey {
  return { epoch, key: sodium.randombytes_buf(DATA_KEY_BYTES) };
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

/** The ring as the kernel contract wants it. */
export function toKeyRing(ring: ManagedRing): KeyRing {
  return { keys: ring.keys, primary: primaryIndex(ring.keys.length) };
}

// ---------------------------------------------------------------------------------------------
// Volume- and age-based rotation (anchors §F.3): rotate before counters, not a 12 h timer, matter.

export interface RotationLimits {
  /** Packets sealed under the current tx SA. */
  readonly packets?: number;
  /** Plaintext bytes sealed under the current tx SA. */
  readonly bytes?: number;
  /** Age of the current tx SA. */
  readonly ageMs?: number;
}

/**
 * Defaults: 2^32 packets or 2^40 bytes (1 TiB) per SA, or 12 h. ChaCha20-Poly1305 with a 64-bit
 * counter nonce has no nonce-exhaustion limit in sight; these bound the data under one key and
 * the window in which a leaked key exposes traffic.
 */
export const DEFAULT_ROTATION_LIMITS: Required<RotationLimits> = {
  packets: 2 ** 32,
  bytes: 2 ** 40,
  ageMs: 12 * 3600 * 1000,
};

export type RotationReason = 'packets' | 'bytes' | 'age';

/**
 * Which limit, if any, the session stats have reached. Feed it `session.stats` (uses
 * `txSaPackets`, `txSaBytes`, `saAgeMs`); a node reports the reason to the manager, which rotates.
 */
export function rotationDue(stats: Readonly<Record<string, number | bigint>>, limits: RotationLimits = DEFAULT_ROTATION_LIMITS): RotationReason | undefined {
  const n = (k: string): number => Number(stats[k] ?? 0);
  if (limits.packets !== undefined && n('txSaPackets') >= limits.packets) return 'packets';
  if (limits.bytes !== undefined && n('txSaBytes') >= limits.bytes) return 'bytes';
  if (limits.ageMs !== undefined && n('saAgeMs') >= limits.ageMs) return 'age';
  return undefined;
}

/**
 * A counter for callers that sum traffic themselves (e.g. over all sessions of a node): `add` per
 * batch, `due()` once a limit is reached, `reset(now)` when the primary epoch changes.
 */
export class VolumeMeter {
  private packets = 0;
  private bytes = 0;
  private since: number;
  private readonly limits: RotationLimits;

  constructor(limits: RotationLimits = DEFAULT_ROTATION_LIMITS, now = 0) {
    this.limits = limits;
    this.since = now;
  }

  add(packets: number, bytes: number): void {
    this.packets += packets;
    this.bytes += bytes;
  }

  due(now: number): RotationReason | undefined {
    return rotationDue({ txSaPackets: this.packets, txSaBytes: this.bytes, saAgeMs: now - this.since }, this.limits);
  }

  reset(now: number): void {
    this.packets = 0;
    this.bytes = 0;
    this.since = now;
  }
}
