/**
 * What the manager side, the node side and the API of the services plugin share: the services
 * they use, this node's name and clock, the manager's one-at-a-time queue, the leader check and
 * the service records in the manager's store.
 */
import { randomBytes } from 'node:crypto';
import { listJson, createSerial, errors, getJson, raise, type Context, type ControlNodeView, type SwarmInfo, type Engine, type Ports, type Tables } from '@weft/kernel';
import type { ServiceRecord } from './records.ts';
import type { ServicesConfig, ServicesOptions } from './config.ts';

export const PLUGIN = 'services';
export const svcKey = (id: string) => `manager/services/${id}`;
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
  isManager(): Promise<boolean>;
  requireManager(): Promise<void>;
  /** Service records, oldest first. */
  records(): Promise<ServiceRecord[]>;
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
    const sw = await swarmInfo();
    if (sw?.Role !== 'manager') return false;
    const views = (await nodeViews()) ?? [];
    const leader = views.find((v) => v.ManagerStatus?.Leader === true);
    return leader === undefined || leader.Description.Hostname === nodeName();
  }

  async function requireManager(): Promise<void> {
    if (!(await isManager())) {
      raise(errors.forbidden(PLUGIN, 'This node is not a swarm manager (leader). Services are managed on the leader: run the command there.', { hint: 'Find it with "weft node ls" (MANAGER STATUS Leader).' }));
    }
  }

  async function records(): Promise<ServiceRecord[]> {
    const out: ServiceRecord[] = [];
    for (const [, r] of await listJson<ServiceRecord>(ctx.store, 'manager/services/')) {
      if (r !== undefined) out.push(r);
    }
    return out.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
  }

  return { ctx, opts, engine, ports, tables, newId, nodeName, now, serial, swarmInfo, nodeViews, isManager, requireManager, records };
}
