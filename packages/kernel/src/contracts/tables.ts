/** tables — replicated per-network tables (NetworkDB-like), Lamport LWW, tombstones. */
import type { TablesStats } from './stats.ts';
export interface TableEntry {
  readonly network: string;
  readonly table: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** Node that wrote the entry. */
  readonly owner: string;
  readonly lamport: number;
  readonly deleted: boolean;
  /** Set while the owner is unreachable but within the grace period (kept, not dropped). */
  readonly stale: boolean;
}

export interface TableEvent {
  readonly type: 'create' | 'update' | 'delete';
  readonly entry: TableEntry;
}

export interface Tables {
  joinNetwork(network: string): Promise<void>;
  leaveNetwork(network: string): Promise<void>;
  put(network: string, table: string, key: string, value: Uint8Array): void;
  delete(network: string, table: string, key: string): void;
  get(network: string, table: string, key: string): TableEntry | undefined;
  /** Live (non-deleted) entries. */
  entries(network: string, table: string): readonly TableEntry[];
  /** Nodes known to be attached to `network`. */
  peers(network: string): readonly string[];
  /**
   * A node left the cluster for good (`node rm`): drop its entries and attachments here and tell
   * every other node to do the same, instead of keeping them for the stale grace period.
   */
  evict?(node: string): void;
  /** Optional, read-only: entry counts and gossip counters (metrics). */
  stats?(): TablesStats;
  /**
   * Asks the nodes on `network` for their entries now (a bulk sync); resolves true on the first
   * answer, false after `timeoutMs` or when no node could be asked. The embedded DNS calls it on
   * a miss, so a name that exists elsewhere is not answered NXDOMAIN before the tables arrive.
   */
  sync?(network: string, timeoutMs: number): Promise<boolean>;
}
