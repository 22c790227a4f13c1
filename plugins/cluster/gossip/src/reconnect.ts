/**
 * serf's reconnect, on a faster clock. memberlist alone never contacts a member again once it is
 * dead: it gossips to it only for `gossipToTheDeadTime`, and push/pull goes to live members. So
 * after a partition each side waits for the other to rejoin some other way (serf retries one
 * failed member every 30 s). Here one random failed member (dead, not left) is joined again
 * (a memberlist push/pull: wire-compatible with memberlist and serf) every `interval` while it
 * failed less than `fastFor` ago, then every `slowInterval`, for up to `timeout`. The first
 * exchange across a healed cut makes both sides refute the other's "dead" and merge; the next
 * one (or gossip) completes it.
 */
import type { Clock, Membership } from '@weft/memberlist';

export const RECONNECT_INTERVAL_MS = 1000;

export interface ReconnectOptions {
  readonly clock: Clock;
  /** Time between attempts (to one member each), ms. */
  readonly interval: number;
  /** How long a failed member is retried at all, ms. */
  readonly timeout: number;
  /** For how long after a failure the member is retried every `interval` (default 2 min). */
  readonly fastFor?: number;
  /** Time between attempts to one member after `fastFor` (default 10 s). */
  readonly slowInterval?: number;
  /**
   * An attempt still pending after this long (a connect into a cut link can hang until the TCP
   * timeout) no longer holds back the next one to the same member (default 3 × interval).
   */
  readonly attemptWindow?: number;
  readonly random?: () => number;
  readonly log?: (msg: string, data: Record<string, unknown>) => void;
}

interface Failed {
  readonly seed: string;
  readonly since: number;
  /** Earliest time of the next attempt. */
  next: number;
}

export interface Reconnect {
  /** Members being retried (diagnostics, tests). */
  failed(): string[];
  /** Successful rejoins so far. */
  readonly rejoined: number;
  stop(): void;
}

export function startReconnect(m: Membership, o: ReconnectOptions): Reconnect {
  const { clock } = o;
  const random = o.random ?? Math.random;
  const fastFor = o.fastFor ?? 120_000;
  const slow = o.slowInterval ?? 10_000;
  const window = o.attemptWindow ?? 3 * o.interval;
  const failed = new Map<string, Failed>();
  const self = m.localNode().name;
  let rejoined = 0;
  let stopped = false;
  const off = m.onEvent((e) => {
    const name = e.member.name;
    if (name === self) return;
    if (e.type === 'dead') {
      if (!failed.has(name)) failed.set(name, { seed: `${e.member.addr}:${e.member.port}`, since: clock.now(), next: clock.now() + o.interval });
    } else if (e.type === 'join' || e.type === 'alive' || e.type === 'update' || e.type === 'left') {
      failed.delete(name); // back, or gone for good; 'reap' and 'suspect' change nothing here
    }
  });
  const tick = () => {
    if (stopped) return;
    const t = clock.now();
    const ready: [string, Failed][] = [];
    for (const [name, f] of failed) {
      if (t - f.since > o.timeout) failed.delete(name);
      else if (f.next <= t) ready.push([name, f]);
    }
    const pick = ready[Math.floor(random() * ready.length)];
    if (pick !== undefined) {
      const [name, f] = pick;
      const pace = () => (clock.now() - f.since < fastFor ? o.interval : slow);
      f.next = t + Math.max(window, pace());
      const settled = (n: number) => {
        if (n > 0) {
          rejoined++;
          o.log?.('rejoined a failed gossip member', { member: name, seed: f.seed, failedForMs: clock.now() - f.since });
        }
        if (failed.get(name) === f) f.next = clock.now() + pace();
      };
      void m.join([f.seed]).then(settled, () => settled(0));
    }
    timer = clock.setTimeout(tick, o.interval);
  };
  let timer = clock.setTimeout(tick, o.interval);
  return {
    failed: () => [...failed.keys()].sort(),
    get rejoined() {
      return rejoined;
    },
    stop() {
      stopped = true;
      clock.clearTimeout(timer);
      off();
    },
  };
}
