/**
 * What the manager side, the node side and the API of the services plugin share: the services
 * they use, this node's name and clock, the manager's one-at-a-time queue, the leader check and
 * the service records in the manager's store.
 */
import { randomBytes } from 'node:crypto';
import { clusterKvStore, listJson, createSerial, errors, putJson, raise, type ClusterStore, type Compare, type Context, type ControlNodeView, type SwarmInfo, type Engine, type Ports, type Store, type Tables, type TxnOp } from '@weft/kernel';
import type { ServiceRecord } from './records.ts';
import type { ServicesConfig, ServicesOptions } from './config.ts';

export const PLUGIN = 'services';
export const svcKey = (id: string) => `manager/services/${id}`;
/** Where the services' records live in a cluster store (clusterKvStore's prefix + svcKey). */
const CS_PREFIX = 'weft/plugins/services/';
/** One key per service name in a cluster store: two managers creating one name cannot both win. */
const nameKey = (name: string) => `${CS_PREFIX}manager/names/${name}`;
export const LOCAL_KEY = 'node/tasks';

/** A swarm node as the control plane lists it: the kernel's control contract. */
export type NodeView = ControlNodeView;

export interface Shared {
  readonly ctx: Context<ServicesConfig>;
  readonly opts: ServicesOptions;
  engine(): Engine;
  ports(): Ports;
  tables(): Tables;
  newId(): string;
  nodeName(): string;
  /** ISO time from the kernel's clock. */
  now(): string;
  /** Manager operations read-modify-write the records: one at a time. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** The control plane's answers, or undefined without one (or when it cannot answer now). */
  swarmInfo(): Promise<SwarmInfo | undefined>;
  nodeViews(): Promise<ControlNodeView[] | undefined>;
  /** This node is the swarm's leader: it runs the reconciler and takes service changes. */
  isManager(): Promise<boolean>;
  /**
   * Service changes: on every manager of a swarm with a cluster store (each write compares the
   * record's revision, so a change and the leader's reconciler never overwrite each other), on
   * the leader otherwise.
   */
  requireManager(): Promise<void>;
  /** Service reads (ls, inspect, ps): on any manager, which reads the records from the cluster store. */
  requireReader(): Promise<void>;
  /**
   * Where the manager-side records live: the swarm's cluster store (under
   * `weft/plugins/services/`) on managers, so a new leader finds them; the state dir otherwise.
   */
  store(): Promise<Store>;
  /** Service records, oldest first; each remembers the revision it was read at (for `writeRecord`). */
  records(): Promise<ServiceRecord[]>;
  /**
   * Writes `rec` (a new one when `create`) if nobody wrote it since `records()` read it; false
   * when someone did (read again and retry). A new record's name must be free (checked in the
   * same transaction). Without a cluster store the leader alone writes: always true.
   */
  writeRecord(rec: ServiceRecord, create?: boolean): Promise<boolean>;
  /** Deletes `rec` (and its name) if nobody wrote it since it was read; false otherwise. */
  deleteRecord(rec: ServiceRecord): Promise<boolean>;
}

export function createShared(ctx: Context<ServicesConfig>, opts: ServicesOptions): Shared {
  const engine = () => ctx.services.get('engine');
  const ports = () => ctx.services.get('ports');
  const tables = () => ctx.services.get('tables');
  const newId = opts.newId ?? (() => randomBytes(5).toString('hex'));
  const nodeName = (): string => opts.nodeName?.(ctx) ?? (ctx.services.has('membership') ? ctx.services.get('membership').self().name : 'local');
  const now = () => new Date(ctx.now()).toISOString();

  const serial = createSerial();

  async function swarmInfo(): Promise<SwarmInfo | undefined> {
    if (!ctx.services.has('control')) return undefined;
    const r = await ctx.invoke('control', 'Swarm.Inspect', {});
    return r._tag === 'Left' ? undefined : r.right;
  }
  async function nodeViews(): Promise<ControlNodeView[] | undefined> {
    if (!ctx.services.has('control')) return undefined;
    const r = await ctx.invoke('control', 'Node.List', {});
    return r._tag === 'Left' ? undefined : r.right;
  }

  async function isManager(): Promise<boolean> {
    if (opts.isManager !== undefined) return opts.isManager(ctx);
    if (!ctx.services.has('control')) return false;
    const c = ctx.services.get('control');
    return c.role === 'manager' && c.isLeader();
  }

  let migrated = false;
  async function store(): Promise<Store> {
    const cs = ctx.services.has('control') ? ctx.services.get('control').clusterStore() : undefined;
    if (cs === undefined) return ctx.store;
    const shared = clusterKvStore(cs, 'weft/plugins/services/');
    if (!migrated) {
      // Records an earlier version kept in this manager's state dir move to the cluster store once.
      migrated = true;
      const local = await ctx.store.keys('manager/');
      if (local.length > 0 && (await shared.keys('manager/')).length === 0) {
        for (const k of local) {
          const v = await ctx.store.get(k);
          if (v !== undefined) await shared.put(k, v);
        }
        for (const k of local) await ctx.store.delete(k);
        ctx.log.info('moved the service records of an earlier version to the cluster store', { records: local.length });
      }
    }
    return shared;
  }

  async function requireManager(): Promise<void> {
    if (opts.isManager === undefined && clusterStore() !== undefined) return;
    if (!(await isManager())) {
      const role = ctx.services.has('control') ? ctx.services.get('control').role : undefined;
      if (role !== 'manager' && opts.isManager === undefined) {
        raise(errors.forbidden(PLUGIN, "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.", { hint: 'Find the managers with "weft node ls" on a manager.' }));
      }
      raise(errors.forbidden(PLUGIN, 'This node is not the swarm leader. Services are changed on the leader (other managers read them): run the command there.', { hint: 'Find it with "weft node ls" (MANAGER STATUS Leader).' }));
    }
  }

  async function requireReader(): Promise<void> {
    if (opts.isManager === undefined && ctx.services.has('control')) {
      const c = ctx.services.get('control');
      if (c.role === 'manager' && c.clusterStore() !== undefined) return;
    }
    await requireManager();
  }

  /** The swarm's cluster store on a manager that has one. */
  function clusterStore(): ClusterStore | undefined {
    if (!ctx.services.has('control')) return undefined;
    const c = ctx.services.get('control');
    return c.role === 'manager' ? c.clusterStore() : undefined;
  }

  /** The revision each record object was read at (0: not read from a cluster store). */
  const readAt = new WeakMap<ServiceRecord, number>();
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  async function records(): Promise<ServiceRecord[]> {
    const out: ServiceRecord[] = [];
    const cs = clusterStore();
    if (cs === undefined) {
      for (const [, r] of await listJson<ServiceRecord>(await store(), 'manager/services/')) if (r !== undefined) out.push(r);
    } else {
      await store(); // moves an earlier version's records in first
      for (const kv of (await cs.range(`${CS_PREFIX}manager/services/`)).kvs) {
        let r: ServiceRecord;
        try {
          r = JSON.parse(dec.decode(kv.value)) as ServiceRecord;
        } catch {
          ctx.log.warn('services: skipping a record that is not JSON', { key: kv.key });
          continue;
        }
        readAt.set(r, kv.modRevision);
        out.push(r);
      }
    }
    return out.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
  }

  async function writeRecord(rec: ServiceRecord, create = false): Promise<boolean> {
    const cs = clusterStore();
    if (cs === undefined) {
      await putJson(await store(), svcKey(rec.ID), rec);
      return true;
    }
    const key = `${CS_PREFIX}${svcKey(rec.ID)}`;
    const compare: Compare[] = [{ key, target: 'modRevision', result: '=', value: create ? 0 : (readAt.get(rec) ?? 0) }];
    const success: TxnOp[] = [{ op: 'put', key, value: enc.encode(JSON.stringify(rec)) }];
    if (create) {
      compare.push({ key: nameKey(rec.Spec.Name), target: 'createRevision', result: '=', value: 0 });
      success.push({ op: 'put', key: nameKey(rec.Spec.Name), value: enc.encode(rec.ID) });
    }
    const r = await cs.txn({ compare, success });
    if (r.succeeded) readAt.set(rec, r.revision);
    return r.succeeded;
  }

  async function deleteRecord(rec: ServiceRecord): Promise<boolean> {
    const cs = clusterStore();
    if (cs === undefined) {
      await (await store()).delete(svcKey(rec.ID));
      return true;
    }
    const key = `${CS_PREFIX}${svcKey(rec.ID)}`;
    const r = await cs.txn({ compare: [{ key, target: 'modRevision', result: '=', value: readAt.get(rec) ?? 0 }], success: [{ op: 'delete', key }, { op: 'delete', key: nameKey(rec.Spec.Name) }] });
    return r.succeeded;
  }

  return { ctx, opts, engine, ports, tables, newId, nodeName, now, serial, swarmInfo, nodeViews, isManager, requireManager, requireReader, store, records, writeRecord, deleteRecord };
}
