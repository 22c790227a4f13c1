/**
 * A manager's presence in the cluster store: one lease, renewed every TTL/3, that carries its
 * `weft/managers/<id>` key, the `weft/sessions/<node>` keys of the nodes connected to it, and —
 * when it wins the election — the `weft/leader` key (etcd's election recipe reduced to one key:
 * create-if-absent bound to the lease). When the process dies the lease expires and its keys
 * vanish, so another manager sees the leader key deleted and takes over within the TTL.
 *
 * A manager that cannot renew (store unreachable, no quorum) stops acting as leader as soon as
 * the lease could have expired, so two managers never run leader duties at once for longer than
 * a renewal interval.
 */
import { ClusterStoreCodes, isWeftError, jsonValue, silentLogger, WeftException, type ClusterStore, type Logger, type WeftError } from '@weft/kernel';
import { K } from './keys.ts';
import type { ClusterView } from './view.ts';

export const DEFAULT_LEASE_TTL_S = 3;

export interface PresenceOptions {
  readonly store: ClusterStore;
  readonly view: ClusterView;
  readonly nodeId: string;
  /** `host:port` nodes dial. */
  readonly addr: string;
  readonly ttlSeconds?: number;
  readonly log?: Logger;
  readonly now?: () => number;
  /** Leadership gained or lost. */
  readonly onLeader: (leader: boolean) => void;
  /** A new lease replaced one that expired: re-put what this manager holds (sessions). */
  readonly onNewLease: (lease: number) => Promise<void>;
}

const asWeft = (e: unknown): WeftError | undefined => (e instanceof WeftException ? e.error : isWeftError(e) ? e : undefined);

export class Presence {
  lease = 0;
  leader = false;
  private readonly o: PresenceOptions;
  private readonly ttl: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastRenewed = 0;
  private renewing = false;
  private campaigning = false;
  private closed = false;

  constructor(o: PresenceOptions) {
    this.o = o;
    this.ttl = o.ttlSeconds ?? DEFAULT_LEASE_TTL_S;
    this.log = o.log ?? silentLogger;
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    await this.acquire();
    this.timer = setInterval(() => void this.renew(), Math.max(200, Math.floor((this.ttl * 1000) / 3)));
    this.timer.unref?.();
  }

  private async acquire(): Promise<void> {
    this.lease = await this.o.store.grantLease(this.ttl);
    this.lastRenewed = this.now();
    await this.o.store.put(K.manager(this.o.nodeId), jsonValue({ Addr: this.o.addr }), { lease: this.lease });
    await this.campaign();
  }

  /** Tries to become the leader when nobody is. */
  async campaign(): Promise<void> {
    if (this.closed || this.campaigning || this.lease === 0) return;
    this.campaigning = true;
    try {
      const r = await this.o.store.txn({
        compare: [{ key: K.leader, target: 'createRevision', result: '=', value: 0 }],
        success: [{ op: 'put', key: K.leader, value: jsonValue({ NodeID: this.o.nodeId, Addr: this.o.addr }), lease: this.lease }],
        failure: [{ op: 'get', key: K.leader }],
      });
      if (r.succeeded) {
        await this.o.view.reached(r.revision);
        this.setLeader(true);
      } else {
        const kv = r.results[0]?.kvs?.[0];
        // Our own key from this lease (a retry after an answer was lost) still counts.
        this.setLeader(kv !== undefined && kv.lease === this.lease);
      }
    } catch (e) {
      this.log.warn('leader election: the cluster store did not answer', { error: asWeft(e)?.message ?? String(e) });
    } finally {
      this.campaigning = false;
    }
  }

  /** Called on every view change of `weft/leader`. */
  leaderChanged(): void {
    const l = this.o.view.leader;
    if (l === undefined) void this.campaign();
    else if (l.NodeID !== this.o.nodeId) this.setLeader(false);
  }

  private setLeader(v: boolean): void {
    if (this.leader === v || (v && this.closed)) return;
    this.leader = v;
    this.log.info(v ? 'this manager is now the leader' : 'this manager is no longer the leader', { node: this.o.nodeId });
    this.o.onLeader(v);
  }

  private async renew(): Promise<void> {
    if (this.closed || this.renewing) return;
    this.renewing = true;
    try {
      await this.o.store.keepAlive(this.lease);
      this.lastRenewed = this.now();
    } catch (e) {
      const err = asWeft(e);
      if (err?.code === ClusterStoreCodes.leaseNotFound) {
        // The lease expired (we were cut off longer than the TTL): everything it held is gone.
        this.setLeader(false);
        this.log.warn('the manager lease expired; registering again', {});
        try {
          await this.acquire();
          await this.o.onNewLease(this.lease);
        } catch (e2) {
          this.log.warn('registering with the cluster store failed; retrying', { error: asWeft(e2)?.message ?? String(e2) });
        }
      } else {
        if (this.now() - this.lastRenewed >= this.ttl * 1000) this.setLeader(false);
        this.log.warn('renewing the manager lease failed', { error: err?.message ?? String(e) });
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Gives up leadership and every leased key at once (a clean stop). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.setLeader(false);
    if (this.lease !== 0) await this.o.store.revokeLease(this.lease).catch(() => undefined);
  }
}
