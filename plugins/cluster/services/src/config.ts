/** The services plugin's configuration, factory options and timing constants. */
import * as t from 'io-ts';
import type { Context } from '@weft/kernel';
import type { VipSource } from './vips.ts';
import type { Netfilter } from './balancer.ts';

export const ServicesConfig = t.partial({
  /** Reconciliation period (ms); table events also trigger a pass. */
  intervalMs: t.number,
  /** Where the routing mesh keeps its unix sockets (default: a directory under the OS temp dir named after the node). */
  runDir: t.string,
  /**
   * How long a node keeps running a task whose assignment vanished without the manager deleting
   * it (the leader's table entries are forgotten while it restarts; default ORPHAN_GRACE_MS).
   */
  orphanGraceMs: t.number,
  /** Address the routing mesh listens on for published ports (default `0.0.0.0`; tests use a loopback address). */
  publishHost: t.string,
});
export type ServicesConfig = t.TypeOf<typeof ServicesConfig>;

export interface ServicesOptions {
  /** Whether this node runs the manager side now. Default: the swarm leader (control plugin). */
  readonly isManager?: (ctx: Context<ServicesConfig>) => Promise<boolean>;
  /** Names of the nodes that may receive tasks now. Default: swarm nodes that are active and alive in gossip. */
  readonly readyNodes?: (ctx: Context<ServicesConfig>) => Promise<string[]>;
  /** This node's name. Default: the membership's own name. */
  readonly nodeName?: (ctx: Context<ServicesConfig>) => string;
  readonly newId?: () => string;
  /** Where the leader takes virtual IPs from. Default: the control plane (Network.List, Blocks.Request). */
  readonly vipSource?: (ctx: Context<ServicesConfig>) => VipSource;
  /** How VIP load balancing is programmed in sandboxes. Default: iptables-restore through nsenter. */
  readonly netfilter?: Netfilter;
  /** Told when the routing mesh cannot listen on a published port (besides the log; tests fail on it). */
  readonly onPublishError?: (e: { service: string; port: string; error: Error }) => void;
}

/** Name of the ingress network the leader creates when a service first publishes a port (as Docker's `swarm init` does). */
export const INGRESS_NETWORK = 'ingress';

/** How long after a manager starts nodes that hold tasks keep them while their status is rebuilt. */
export const STARTUP_GRACE_MS = 15_000;
/**
 * A task whose entry is gone from the tasks table without a tombstone (the manager did not delete
 * it: its entries were forgotten because the leader left gossip, e.g. a graceful restart, or this
 * agent's tables are still syncing after its own restart) keeps running this long before the
 * node removes it. A deleted entry (scale down, rm, rescheduled) removes the task at once.
 */
export const ORPHAN_GRACE_MS = 60_000;
