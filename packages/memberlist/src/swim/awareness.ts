/**
 * Lifeguard local health awareness (memberlist awareness.go, spec §11): a score in
 * [0, max − 1] that rises when our probes fail or we must refute a suspicion and falls on
 * each successful probe; probe intervals and timeouts are scaled by `score + 1`, so a node
 * that is itself slow waits longer before suspecting others.
 */
export class Awareness {
  score = 0;
  private readonly max: number;

  constructor(maxMultiplier: number) {
    this.max = maxMultiplier;
  }

  apply(delta: number): void {
    this.score = Math.max(0, Math.min(this.max - 1, this.score + delta));
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
