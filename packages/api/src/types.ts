/**
 * The agent's local API: HTTP/1.1 + JSON over its unix socket, shaped like the Docker Engine API
 * where one exists. Request bodies have io-ts codecs (the agent decodes them at the edge); response
 * shapes are TypeScript types (the agent produces them). Errors: non-2xx and `{"message": "..."}`.
 *
 * | method | path | body → response |
 * |---|---|---|
 * | GET | /version | → Version |
 * | GET | /info | → Info |
 * | POST | /swarm/init | SwarmInitRequest → SwarmInitResponse |
 * | POST | /swarm/join | SwarmJoinRequest → SwarmJoinResponse |
 * | GET | /swarm/join-token?role=worker\|manager[&rotate=1] | → JoinTokenResponse |
 * | POST | /swarm/leave[?force=1] | → {} |
 * | POST | /swarm/rotate-keys | → KeyRingInfo (managers) |
 * | GET | /nodes | → Node[] |
 * | GET | /nodes/{id or name} | → Node |
 * | DELETE | /nodes/{id or name}[?force=1] | → {} |
 * | GET | /networks | → Network[] |
 * | POST | /networks/create | NetworkCreateRequest → NetworkCreateResponse |
 * | GET | /networks/{id or name} | → Network |
 * | DELETE | /networks/{id or name} | → {} |
 * | POST | /networks/prune | → { NetworksDeleted: string[] } |
 * | POST | /networks/{id}/connect | NetworkConnectRequest → {} |
 * | POST | /networks/{id}/disconnect | NetworkDisconnectRequest → {} |
 * | GET | /networks/{id}/peers | → NetworkPeers |
 * | POST | /networks/{id}/peers | PeerAddRequest → {} |
 * | DELETE | /networks/{id}/peers/{mac} | → {} |
 * | GET | /sandboxes | → Sandbox[] |
 * | POST | /sandboxes/create | SandboxCreateRequest → Sandbox |
 * | GET | /sandboxes/{name} | → Sandbox |
 * | DELETE | /sandboxes/{name}[?force=1] | → {} |
 */
import * as t from 'io-ts';

export const API_VERSION = '1.0';

export interface Version {
  readonly Version: string;
  readonly ApiVersion: string;
  readonly KernelVersion: string;
  readonly Os: string;
  readonly Arch: string;
  readonly NodeVersion: string;
}

export type Role = 'manager' | 'worker' | 'standalone';

export interface Info {
  readonly Name: string;
  readonly NodeID: string;
  readonly Role: Role;
  readonly ClusterID: string;
  readonly Managers: readonly string[];
  readonly Members: number;
  readonly Networks: number;
  readonly Sandboxes: number;
  readonly CryptoBackend: string;
  readonly DataPath: { readonly Addr: string; readonly Port: number };
  readonly Gossip: { readonly Addr: string; readonly Port: number; readonly Encrypted: boolean };
  readonly Os: string;
  readonly StateDir: string;
  readonly Plugins: readonly { readonly Name: string; readonly Version: string; readonly Provides: readonly string[] }[];
}

export const SwarmInitRequest = t.partial({
  AdvertiseAddr: t.string,
  ListenAddr: t.string,
  DataPathAddr: t.string,
  DataPathPort: t.number,
  DefaultAddrPool: t.array(t.string),
  SubnetSize: t.number,
  /** Go-style duration: `12h`, `30m`. */
  KeyRotationInterval: t.string,
});
export type SwarmInitRequest = t.TypeOf<typeof SwarmInitRequest>;
export interface SwarmInitResponse {
  readonly NodeID: string;
  readonly ClusterID: string;
  readonly WorkerToken: string;
  readonly ManagerToken: string;
}

export const SwarmJoinRequest = t.intersection([
  t.type({ JoinToken: t.string, RemoteAddrs: t.array(t.string) }),
  t.partial({ AdvertiseAddr: t.string, DataPathAddr: t.string }),
]);
export type SwarmJoinRequest = t.TypeOf<typeof SwarmJoinRequest>;
export interface SwarmJoinResponse {
  readonly NodeID: string;
  readonly ClusterID: string;
  readonly Role: Role;
}

/** The cluster's key ring after a rotation (no key material). */
export interface KeyRingInfo {
  readonly Rotation: number;
  readonly Epochs: readonly number[];
  readonly PrimaryEpoch: number;
  readonly NextRotationAt: number;
  readonly IntervalMs: number;
}

export interface JoinTokenResponse {
  readonly Role: 'worker' | 'manager';
  readonly Token: string;
  readonly Manager: string;
}

export type NodeStatus = 'ready' | 'down' | 'unknown' | 'alive' | 'suspect' | 'failed' | 'left';

export interface Node {
  readonly ID: string;
  readonly Name: string;
  /** From gossip: ready/alive, suspect, down/failed, left. Foreign memberlist/serf members too. */
  readonly Status: NodeStatus;
  readonly Availability: 'active' | 'pause' | 'drain' | '';
  readonly ManagerStatus: 'Leader' | 'Reachable' | 'Unreachable' | '';
  readonly Platform: { readonly OS: string; readonly Arch: string };
  readonly Addr: string;
  readonly Weft: boolean;
  readonly Self: boolean;
  readonly Tags: Readonly<Record<string, string>>;
}

export const IPAMConfig = t.partial({
  Subnet: t.string,
  Gateway: t.string,
  IPRange: t.string,
  AuxAddresses: t.record(t.string, t.string),
});
export type IPAMConfig = t.TypeOf<typeof IPAMConfig>;

export const NetworkCreateRequest = t.intersection([
  t.type({ Name: t.string }),
  t.partial({
    Driver: t.string,
    Attachable: t.boolean,
    Internal: t.boolean,
    EnableIPv6: t.boolean,
    /** The swarm's routing-mesh network (Docker's `--ingress`): overlay, not attachable, at most one. */
    Ingress: t.boolean,
    Options: t.record(t.string, t.string),
    Labels: t.record(t.string, t.string),
    IPAM: t.partial({ Driver: t.string, Config: t.array(IPAMConfig), Options: t.record(t.string, t.string) }),
  }),
]);
export type NetworkCreateRequest = t.TypeOf<typeof NetworkCreateRequest>;
export interface NetworkCreateResponse {
  readonly Id: string;
  readonly Warning: string;
}

export interface NetworkEndpoint {
  readonly Name: string;
  readonly EndpointID: string;
  readonly MacAddress: string;
  readonly IPv4Address: string;
  readonly IPv6Address: string;
  readonly Node: string;
}

export interface Network {
  readonly Name: string;
  readonly Id: string;
  readonly Created: string;
  readonly Scope: 'local' | 'swarm';
  readonly Driver: string;
  readonly EnableIPv6: boolean;
  readonly IPAM: { readonly Driver: string; readonly Options: Readonly<Record<string, string>>; readonly Config: readonly IPAMConfig[] };
  readonly Internal: boolean;
  readonly Attachable: boolean;
  /** The swarm's routing-mesh network (Docker's NetworkResource.Ingress). */
  readonly Ingress: boolean;
  readonly Encrypted: boolean;
  readonly VNI: number;
  readonly MTU: number;
  /** Endpoints of sandboxes on this host (Docker shows only local ones) … */
  readonly Containers: Readonly<Record<string, NetworkEndpoint>>;
  /** … and Weft also lists every endpoint in the cluster, from the gossip tables. */
  readonly Endpoints: readonly NetworkEndpoint[];
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
  readonly Peers: readonly { readonly Name: string; readonly IP: string }[];
  /** Addresses in use / total, per subnet. */
  readonly Utilisation: readonly { readonly Subnet: string; readonly Used: number; readonly Total: number }[];
}

export const NetworkConnectRequest = t.intersection([
  t.type({ Container: t.string }),
  t.partial({ EndpointConfig: t.partial({ IPAddress: t.string, Aliases: t.array(t.string) }) }),
]);
export type NetworkConnectRequest = t.TypeOf<typeof NetworkConnectRequest>;

export const NetworkDisconnectRequest = t.intersection([t.type({ Container: t.string }), t.partial({ Force: t.boolean })]);
export type NetworkDisconnectRequest = t.TypeOf<typeof NetworkDisconnectRequest>;

export interface PeerView {
  readonly Node: string;
  readonly VTEP: string;
  readonly Endpoints: number;
  readonly Static: boolean;
  readonly KeyEpoch: number;
  readonly SAAgeMs: number;
  readonly Counters: Readonly<Record<string, number>>;
}

export interface NetworkPeers {
  readonly Network: string;
  readonly VNI: number;
  readonly Encrypted: boolean;
  readonly Peers: readonly PeerView[];
  readonly Endpoints: readonly NetworkEndpoint[];
  readonly Counters: Readonly<Record<string, number>>;
}

export const PeerAddRequest = t.type({ VTEP: t.string, MAC: t.string, IP: t.string });
export type PeerAddRequest = t.TypeOf<typeof PeerAddRequest>;

export const PortMapping = t.intersection([
  t.type({ HostPort: t.number, ContainerPort: t.number }),
  t.partial({ HostIP: t.string, Protocol: t.union([t.literal('tcp'), t.literal('udp')]) }),
]);
export type PortMapping = t.TypeOf<typeof PortMapping>;

export const SandboxCreateRequest = t.intersection([
  t.type({ Name: t.string }),
  t.partial({
    Networks: t.array(t.intersection([t.type({ Name: t.string }), t.partial({ IPAddress: t.string, Aliases: t.array(t.string) })])),
    Hostname: t.string,
    /** Command the agent runs in the sandbox, detached (`weft run -d`). Without it the CLI runs it in the foreground. */
    Cmd: t.array(t.string),
    Ports: t.array(PortMapping),
    /**
     * A bare endpoint: an address and a DNS name on its networks, with no namespace of its own.
     * Its interface (a TAP) lives in the host's shared `weft-endpoints-<node>-<hash>` namespace, where the
     * kernel holds its address (it answers ping). No Cmd, no Ports. The cheapest endpoint.
     */
    Bare: t.boolean,
  }),
]);
export type SandboxCreateRequest = t.TypeOf<typeof SandboxCreateRequest>;

export interface Sandbox {
  readonly Name: string;
  readonly Id: string;
  /** `/run/netns/<name>`: run commands inside with `ip netns exec` or `nsenter --net=`. */
  readonly NetnsPath: string;
  readonly Hostname: string;
  readonly Cmd: readonly string[];
  readonly Pid: number;
  readonly State: 'created' | 'running' | 'exited';
  readonly ExitCode: number | null;
  readonly Created: string;
  /** By network name; `NetworkID` is the network's full ID. */
  readonly Networks: Readonly<Record<string, { readonly IPAddress: string; readonly MacAddress: string; readonly Aliases: readonly string[]; readonly EndpointID: string; readonly NetworkID?: string }>>;
  readonly Ports: readonly PortMapping[];
  /** Path of the resolv.conf written for it (`/etc/netns/<name>/resolv.conf`); '' for a bare endpoint. */
  readonly ResolvConf: string;
  /** A bare endpoint (see SandboxCreateRequest.Bare): NetnsPath is the shared namespace. */
  readonly Bare?: boolean;
}

export interface ApiErrorBody {
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
  /** Stable error code (`WEFT_...`). */
  readonly code?: string;
}

// ---------------------------------------------------------------------------------------------
// Services, tasks and stacks (served by the manager; @weft/services). Docker Engine API shapes.
//
// | method | path | body → response |
// |---|---|---|
// | POST | /services/create | ServiceSpec → ServiceCreateResponse |
// | GET | /services[?status=true] | → Service[] |
// | GET | /services/{id or name} | → Service |
// | POST | /services/{id}/update?version=N | ServiceSpec → { Warnings? } |
// | DELETE | /services/{id or name} | → {} |
// | GET | /tasks?filters={"service":["S"]} or {"label":["com.docker.stack.namespace=NAME"]} | → Task[] |
// | GET | /stacks | → StackSummary[] |
// | POST | /stacks/deploy | StackDeployRequest → StackDeployResponse |
// | DELETE | /stacks/{name} | → {} |

export const PortConfig = t.intersection([
  t.type({ Protocol: t.union([t.literal('tcp'), t.literal('udp')]), TargetPort: t.number, PublishMode: t.union([t.literal('ingress'), t.literal('host')]) }),
  t.partial({ PublishedPort: t.number }),
]);
export type PortConfig = t.TypeOf<typeof PortConfig>;

export const ServiceSpec = t.intersection([
  t.type({
    Name: t.string,
    TaskTemplate: t.intersection([
      t.type({ ContainerSpec: t.type({ Command: t.array(t.string) }) }),
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

export interface StackSummary {
  readonly Name: string;
  readonly Services: number;
  readonly Networks?: number;
}

export const StackDeployRequest = t.type({ Name: t.string, ComposeFiles: t.array(t.string) });
export type StackDeployRequest = t.TypeOf<typeof StackDeployRequest>;

export interface StackDeployResponse {
  readonly Services: readonly string[];
  readonly Networks: readonly string[];
  readonly Warnings?: readonly string[];
}
