/**
 * What the manager and the nodes exchange through the cluster table, and what the manager keeps
 * in its store. Remote input is decoded with io-ts (a node never trusts another's bytes).
 */
import * as t from 'io-ts';
import { decode, type Tables } from '@weft/kernel';
import type { ServiceSpec } from '@weft/api';

/** Reserved tables network every Weft node joins at start (never a real network ID: has `_`). */
export const CLUSTER_NETWORK = '_cluster';
/** Desired tasks, written by the manager: key = task ID, value = TaskAssignment. */
export const TASKS_TABLE = 'tasks';
/** Observed task state, written by the node running the task: key = task ID, value = TaskStatus. */
export const STATUS_TABLE = 'task-status';

export const TaskAssignment = t.intersection([t.type({
  id: t.string,
  serviceId: t.string,
  service: t.string,
  slot: t.number,
  node: t.string,
  /** Sandbox name on the node: `SERVICE.SLOT.ID` (Docker's task name). */
  name: t.string,
  cmd: t.array(t.string),
  /** Network IDs with the service's aliases on each. */
  networks: t.array(t.type({ id: t.string, aliases: t.array(t.string) })),
  endpointMode: t.union([t.literal('vip'), t.literal('dnsrr')]),
}), t.partial({
  /** Network ID → the service's virtual IP there (endpoint mode vip). */
  vips: t.record(t.string, t.string),
  /** Network ID → the service's IPv6 virtual IP there (dual-stack networks). */
  vips6: t.record(t.string, t.string),
  /** The service's image: without cmd, it picks the task's command (the engine's imageDefault). */
  image: t.string,
  /** Ports published in mode host: this node's port → the task's port (only where a task runs). */
  ports: t.array(t.type({ published: t.number, target: t.number, protocol: t.union([t.literal('tcp'), t.literal('udp')]) })),
})]);
export type TaskAssignment = t.TypeOf<typeof TaskAssignment>;

/** Virtual IPs of one service, written by the manager: key = service ID. Every node balances them. */
export const VIPS_TABLE = 'vips';
export const VipEntry = t.intersection([
  t.type({
    service: t.string,
    /** Network ID → the VIP (bare address, or with its prefix length). */
    vips: t.record(t.string, t.string),
  }),
  t.partial({
    /** Network ID → the IPv6 VIP (dual-stack networks; absent when the service has none). */
    vips6: t.record(t.string, t.string),
  }),
]);
export type VipEntry = t.TypeOf<typeof VipEntry>;

export const TaskState = t.union([t.literal('starting'), t.literal('running'), t.literal('failed'), t.literal('rejected')]);
export type TaskState = t.TypeOf<typeof TaskState>;

export const TaskStatus = t.intersection([
  t.type({ state: TaskState, node: t.string, ts: t.string }),
  t.partial({ err: t.string, addresses: t.record(t.string, t.string) }),
]);
export type TaskStatus = t.TypeOf<typeof TaskStatus>;

/** A task as the manager remembers it (history included: replaced tasks stay, shut down). */
export interface TaskRecord {
  readonly ID: string;
  readonly Slot: number;
  readonly Node: string;
  readonly Name: string;
  DesiredState: 'running' | 'shutdown';
  State: string;
  Err?: string;
  Timestamp: string;
  /** Signature of the spec the task was made from; a different one is replaced. */
  readonly SpecKey: string;
  Addresses?: Record<string, string>;
}

/** The manager's durable record of a service. */
export interface ServiceRecord {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: ServiceSpec;
  /** `Spec.TaskTemplate.Networks` resolved to network IDs (and names, for listings). */
  Networks: { Id: string; Name: string; Aliases: string[] }[];
  Tasks: TaskRecord[];
  /** Endpoint mode vip: network ID → the service's virtual IP there (`10.0.0.5/24`, as Docker shows it), allocated by the leader. */
  Vips?: Record<string, string>;
  /** Network ID → the service's IPv6 virtual IP on dual-stack networks (`fd00::5/64`), allocated like `Vips`. */
  Vips6?: Record<string, string>;
  /**
   * The swarm's ingress network, while the service publishes ports in mode ingress: its tasks are
   * attached to it too (after the spec's networks), and the routing mesh reaches them there.
   */
  Ingress?: { Id: string; Name: string };
}

/** Every network a service's tasks attach to: the spec's, then the ingress network (if it publishes ports). */
export function attachedNetworks(s: Pick<ServiceRecord, 'Networks' | 'Ingress'>): ServiceRecord['Networks'] {
  return s.Ingress === undefined ? s.Networks : [...s.Networks, { Id: s.Ingress.Id, Name: s.Ingress.Name, Aliases: [] }];
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const encodeJson = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
export function decodeJson<A>(codec: t.Type<A, unknown, unknown>, bytes: Uint8Array): A | undefined {
  try {
    const r = decode(codec, JSON.parse(dec.decode(bytes)));
    return r.ok ? r.value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The leader's entries of one cluster table as a node should act on them: the live entries, plus
 * entries that are gone without a tombstone (forgotten because the leader left gossip, e.g. while
 * it restarts, or not yet synced after this agent restarted) for up to `graceMs`. An entry the
 * leader deleted (a tombstone) goes at once. So published ports and VIPs keep working while the
 * leader restarts.
 */
export class Retained<A> {
  private readonly last = new Map<string, { value: A; missingSince?: number }>();
  private readonly table: string;
  private readonly codec: t.Type<A, unknown, unknown>;
  constructor(table: string, codec: t.Type<A, unknown, unknown>) {
    this.table = table;
    this.codec = codec;
  }

  view(tb: Tables, now: number, graceMs: number): Map<string, A> {
    const out = new Map<string, A>();
    for (const e of tb.entries(CLUSTER_NETWORK, this.table)) {
      const v = decodeJson(this.codec, e.value);
      if (v === undefined) continue;
      out.set(e.key, v);
      this.last.set(e.key, { value: v });
    }
    for (const [k, l] of this.last) {
      if (out.has(k)) continue;
      if (tb.get(CLUSTER_NETWORK, this.table, k) !== undefined) {
        this.last.delete(k); // deleted by the leader (or undecodable now): gone
        continue;
      }
      l.missingSince ??= now;
      if (now - l.missingSince >= graceMs) this.last.delete(k);
      else out.set(k, l.value);
    }
    return out;
  }
}

/** A service's ports published in `mode` (`--publish mode=ingress|host,published=P,target=T`) that name their published port. */
export function publishedPorts(spec: ServiceRecord['Spec'], mode: 'ingress' | 'host'): { published: number; target: number; protocol: 'tcp' | 'udp' }[] {
  return (spec.EndpointSpec?.Ports ?? [])
    .filter((p) => p.PublishMode === mode && p.PublishedPort !== undefined)
    .map((p) => ({ published: p.PublishedPort!, target: p.TargetPort, protocol: p.Protocol }));
}
