/**
 * Lifeguard suspicion timers (memberlist suspicion.go, spec §11): a suspicion starts at the
 * maximum timeout and shrinks toward the minimum, logarithmically, as other members
 * independently confirm it (`k` confirmations expected).
 */
import type { Clock } from './types.ts';

/** memberlist's suspicionTimeout: `mult × max(1, log10(max(1, n))) × interval` (ms). */
export function suspicionTimeout(mult: number, n: number, interval: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor((mult * Math.floor(scale * 1000) * interval) / 1000);
}

export class Suspicion {
  private readonly clock: Clock;
  private readonly start: number;
  private readonly k: number;
  private readonly min: number;
  private readonly max: number;
  private readonly seen: Set<string>;
  private readonly fire: () => void;
  private n = 0;
  private timer: unknown;

  /** Starts the timer: `min` when no confirmations are expected (`k < 1`), else `max`. */
  constructor(clock: Clock, start: number, from: string, k: number, min: number, max: number, fire: () => void) {
    this.clock = clock;
    this.start = start;
    this.k = k;
    this.min = min;
    this.max = max;
    this.seen = new Set([from]);
    this.fire = fire;
    this.timer = clock.setTimeout(fire, k < 1 ? min : max);
  }

  /** A new, independent confirmation shortens the timeout; returns whether it was new. */
  confirm(from: string): boolean {
    if (this.n >= this.k) return false;
    if (this.seen.has(from)) return false;
    this.seen.add(from);
    this.n++;
    const timeout = Math.max(this.min, this.max - ((this.max - this.min) * Math.log(this.n + 1)) / Math.log(this.k + 1));
    this.clock.clearTimeout(this.timer);
    const remaining = this.start + timeout - this.clock.now();
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, remaining));
    return true;
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
  }
}
