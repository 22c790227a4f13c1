/**
 * Read-only statistics services may offer (`stats?()` on `datapath`, `membership`, `tables`,
 * `dns`, `control`), for debug views and the agent's metrics. Plain data: no exporter, no I/O.
 */

/** A latency distribution as Prometheus histograms hold it; seconds. */
export interface LatencyHistogram {
  /** Upper bounds of the buckets, ascending (the last bucket, +Inf, is implied). */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative; `bounds.length + 1` entries (the last is +Inf). */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** Default bounds for network round trips and RPCs: 0.5 ms to 10 s. */
export const LATENCY_BOUNDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram to `observe` into (control path only: one array update per observation). */
export function createLatencyHistogram(bounds: readonly number[] = LATENCY_BOUNDS): { observe(seconds: number): void; snapshot(): LatencyHistogram } {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  return {
    observe(s) {
      if (!Number.isFinite(s) || s < 0) return;
      let i = 0;
      while (i < bounds.length && s > bounds[i]!) i++;
      counts[i]!++;
      sum += s;
      count++;
    },
    snapshot: () => ({ bounds, counts: [...counts], sum, count }),
  };
}

/** `membership.stats()`: counters since start. */
export interface MembershipStats {
  /** Probes started, and those that ended without an ack. */
  readonly probes: number;
  readonly probeFailures: number;
  /** Members this node marked suspect. */
  readonly suspicions: number;
  /** Push/pull (full state) exchanges started, and those that failed. */
  readonly pushPulls: number;
  readonly pushPullFailures: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly streamsIn: number;
  readonly streamsOut: number;
  /** Messages received, by kind (`ping`, `ack`, `alive`, `suspect`, `dead`, `user`, ...). */
  readonly received: Readonly<Record<string, number>>;
  /** Inbound input dropped, by reason. */
  readonly drops: Readonly<Record<string, number>>;
}

/** `tables.stats()`. */
export interface TablesStats {
  /** Live entries now, per network and table. */
  readonly entries: readonly { readonly network: string; readonly table: string; readonly count: number }[];
  readonly eventsSent: number;
  readonly eventsReceived: number;
  readonly eventsApplied: number;
  readonly bulkSyncs: number;
  readonly malformed: number;
  /** Events waiting to be gossiped now. */
  readonly queueDepth: number;
}

/** `dns.stats()`. */
export interface DnsStats {
  /** Counters by name (`queries`, `answers`, `nxdomain`, `forwarded`, `forwardFailures`, ...). */
  readonly counters: Readonly<Record<string, number>>;
  /** Time to an upstream's answer (or to giving up) of each forwarded query. */
  readonly forward: LatencyHistogram;
}

/** `control.stats()`: this node's calls to its manager. */
export interface ControlStats {
  /** Round trip of every RPC to a manager, failures included. */
  readonly rpc: LatencyHistogram;
  /** RPCs that failed (no manager, timeout, or an error answered). */
  readonly rpcErrors: number;
}
