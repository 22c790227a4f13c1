/**
 * Volume- and age-based rotation: rotate before counters, not a 12 h timer, matter. Reads the
 * session stats every EnvelopeSession reports (`txSaPackets`, `txSaBytes`, `saAgeMs`).
 */

export interface RotationLimits {
  /** Packets sealed under the current tx SA. */
  readonly packets?: number;
  /** Plaintext bytes sealed under the current tx SA. */
  readonly bytes?: number;
  /** Age of the current tx SA. */
  readonly ageMs?: number;
}

/**
 * Defaults: 2^32 packets or 2^40 bytes (1 TiB) per SA, or 12 h. ChaCha20-Poly1305 and AES-256-GCM
 * with a 64-bit counter nonce have no nonce-exhaustion limit in sight; these bound the data under
 * one key and the window in which a leaked key exposes traffic.
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
