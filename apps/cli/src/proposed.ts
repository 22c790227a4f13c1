/**
 * Service and stack shapes the CLI sends and reads, Docker Engine API style. Not in @weft/api yet:
 * they are the proposed contract for the agent's service/stack endpoints (see README), to move
 * into packages/api/src/types.ts when the agent serves them.
 *
 * | method | path | body → response |
 * |---|---|---|
 * | POST | /services/create | ServiceSpec → { ID, Warnings? } |
 * | GET | /services?status=true | → Service[] |
 * | GET | /services/{id or name} | → Service |
 * | POST | /services/{id}/update?version=N | ServiceSpec → { Warnings? } |
 * | DELETE | /services/{id or name} | → {} |
 * | GET | /tasks?filters={"service":["S"]} or {"label":["com.docker.stack.namespace=NAME"]} | → Task[] |
 * | GET | /stacks | → StackSummary[] |
 * | POST | /stacks/deploy | StackDeployRequest → StackDeployResponse |
 * | DELETE | /stacks/{name} | → {} |
 */

export interface PortConfig {
  readonly Protocol: 'tcp' | 'udp';
  readonly TargetPort: number;
  readonly PublishedPort?: number;
  readonly PublishMode: 'ingress' | 'host';
}

export interface ServiceSpec {
  readonly Name: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly TaskTemplate: {
    readonly ContainerSpec: { readonly Command: readonly string[] };
    readonly Networks?: readonly { readonly Target: string; readonly Aliases?: readonly string[] }[];
  };
  readonly Mode: { readonly Replicated: { readonly Replicas: number } };
  readonly EndpointSpec?: { readonly Mode?: 'vip' | 'dnsrr'; readonly Ports?: readonly PortConfig[] };
}

export interface Service {
  readonly ID: string;
  readonly Version: { readonly Index: number };
  readonly CreatedAt?: string;
  readonly Spec: ServiceSpec;
  readonly Endpoint?: { readonly Ports?: readonly PortConfig[]; readonly VirtualIPs?: readonly { readonly NetworkID: string; readonly Addr: string }[] };
  readonly ServiceStatus?: { readonly RunningTasks: number; readonly DesiredTasks: number };
}

export interface Task {
  readonly ID: string;
  /** `SERVICE.SLOT` (stack services: `STACK_SERVICE.SLOT`); derived from the service and slot when absent. */
  readonly Name?: string;
  readonly ServiceID: string;
  readonly Slot?: number;
  readonly NodeID: string;
  readonly DesiredState: string;
  readonly Status: { readonly State: string; readonly Timestamp?: string; readonly Err?: string; readonly Message?: string };
}

export interface StackSummary {
  readonly Name: string;
  readonly Services: number;
  readonly Networks?: number;
}

export interface StackDeployRequest {
  readonly Name: string;
  /** Compose file contents in order; later ones override earlier ones (Docker's `-c a.yml -c b.yml`). */
  readonly ComposeFiles: readonly string[];
}

export interface StackDeployResponse {
  readonly Services: readonly string[];
  readonly Networks: readonly string[];
  readonly Warnings?: readonly string[];
}
