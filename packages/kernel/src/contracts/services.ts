/**
 * services — replicated services and their tasks (Docker swarm mode's), provided by the `services`
 * plugin (@weft/services). The manager side answers on the swarm leader; `reconcile` and
 * `waitTasksGone` work on every node. The spec codec and views are the local API's (packages/api
 * re-exports them).
 */
import * as t from 'io-ts';
import type { Engine, RemoveCheck } from './engine.ts';

export const PortConfig = t.intersection([
  t.type({ Protocol: t.union([t.literal('tcp'), t.literal('udp')]), TargetPort: t.number, PublishMode: t.union([t.literal('ingress'), t.literal('host')]) }),
  t.partial({ PublishedPort: t.number }),
]);
export type PortConfig = t.TypeOf<typeof PortConfig>;

export const ServiceSpec = t.intersection([
  t.type({
    Name: t.string,
    TaskTemplate: t.intersection([
      // Image: Weft runs no images; without Command the image picks the task's command (engine's imageDefault).
      t.type({ ContainerSpec: t.intersection([t.type({ Command: t.array(t.string) }), t.partial({ Image: t.string })]) }),
      t.partial({ Networks: t.array(t.intersection([t.type({ Target: t.string }), t.partial({ Aliases: t.array(t.string) })])) }),
    ]),
    Mode: t.type({ Replicated: t.type({ Replicas: t.number }) }),
  }),
  t.partial({
    Labels: t.record(t.string, t.string),
    EndpointSpec: t.partial({ Mode: t.union([t.literal('vip'), t.literal('dnsrr')]), Ports: t.array(PortConfig) }),
  }),
]);
export type ServiceSpec = t.TypeOf<typeof ServiceSpec>;

export interface ServiceCreateResponse {
  readonly ID: string;
  readonly Warnings?: readonly string[];
}

export interface Service {
  readonly ID: string;
  readonly Version: { readonly Index: number };
  readonly CreatedAt?: string;
  readonly UpdatedAt?: string;
  readonly Spec: ServiceSpec;
  readonly Endpoint?: { readonly Ports?: readonly PortConfig[]; readonly VirtualIPs?: readonly { readonly NetworkID: string; readonly Addr: string }[] };
  readonly ServiceStatus?: { readonly RunningTasks: number; readonly DesiredTasks: number };
}

export interface Task {
  readonly ID: string;
  /** `SERVICE.SLOT.ID`, the task's sandbox name on its node. */
  readonly Name?: string;
  readonly ServiceID: string;
  readonly Slot?: number;
  /** The node's name (Weft nodes are named; `weft node ls` shows both). */
  readonly NodeID: string;
  readonly DesiredState: string;
  readonly Status: { readonly State: string; readonly Timestamp?: string; readonly Err?: string; readonly Message?: string };
  readonly Labels?: Readonly<Record<string, string>>;
  /** Addresses of the task per network (CIDR), once it runs. */
  readonly NetworksAttachments?: readonly { readonly Network: string; readonly Addresses: readonly string[] }[];
}

/** The `services` service: what the API routes call (manager side, except `reconcile` and `waitTasksGone`). */
export interface ServicesApi {
  create(spec: ServiceSpec): Promise<{ ID: string; Warnings: string[] }>;
  list(): Promise<Service[]>;
  get(ref: string): Promise<Service>;
  /** `version`: the service's version the update was made from (Conflict when it moved on). */
  update(ref: string, version: number | undefined, spec: ServiceSpec): Promise<{ Warnings: string[] }>;
  remove(ref: string): Promise<void>;
  /** Docker's task filters: `service`, `label`, `node`, `desired-state`. */
  tasks(filters: Readonly<Record<string, readonly string[]>>): Promise<Task[]>;
  /** Runs one manager pass and one node pass now (tests, and after API changes). */
  reconcile(): Promise<void>;
  /** Resolves once no node reports any of `taskIds` any more (their sandboxes are gone), or false after `ms`. */
  waitTasksGone(taskIds: readonly string[], ms: number): Promise<boolean>;
  /** The engine the services run on, for stacks (networks). */
  engine(): Engine;
  /** Refuses removing the ingress network while a service publishes ports (registered with the engine). */
  checkNetworkRemoval: RemoveCheck;
}

/** `services.service` (EventMap): a service was created, updated or removed on this manager. */
export interface ServiceEvent {
  readonly action: 'create' | 'update' | 'remove';
  readonly id: string;
  readonly name: string;
  readonly replicas: number;
}
