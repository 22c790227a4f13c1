/**
 * engine — what Docker's libnetwork controller does on one host: networks (local ones of its own,
 * swarm ones from the control plane, instantiated here while a local sandbox uses them), sandboxes
 * (network namespaces) and their attachments. Provided by the `engine` plugin (@weft/engine); the
 * agent's local API and the `services` plugin use it.
 *
 * The request codecs and views are the local API's (packages/api re-exports them): the engine
 * takes and returns exactly what the API serves.
 */
import * as t from 'io-ts';

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
    /**
     * Docker's `--ipv4` (API 1.48 `EnableIPv4`, default true). `false` with `EnableIPv6`: an
     * IPv6-only network (no IPv4 subnet, endpoints get only an IPv6 address); refused without it.
     */
    EnableIPv4: t.boolean,
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
  /** False on an IPv6-only network (Docker's EnableIPv4); the engine always sets it. */
  readonly EnableIPv4?: boolean;
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
  /** Hosts of the network; `DataPlane` is the path each carries it on (from its endpoint records). */
  readonly Peers: readonly { readonly Name: string; readonly IP: string; readonly DataPlane?: 'kernel' | 'userspace' }[];
  /** The data plane this host carries the network on, once a local sandbox joined it. */
  readonly DataPlane?: 'kernel' | 'userspace';
  /** Addresses in use / total, per subnet. */
  readonly Utilisation: readonly { readonly Subnet: string; readonly Used: number; readonly Total: number }[];
}

export const PortMapping = t.intersection([
  t.type({ HostPort: t.number, ContainerPort: t.number }),
  t.partial({ HostIP: t.string, Protocol: t.union([t.literal('tcp'), t.literal('udp')]) }),
]);
export type PortMapping = t.TypeOf<typeof PortMapping>;

export const SandboxCreateRequest = t.intersection([
  t.type({ Name: t.string }),
  t.partial({
    /** `IPAddress`: the IPv4 address on that network (`--ip`); `IPv6Address`: the IPv6 one (`--ip6`). */
    Networks: t.array(t.intersection([t.type({ Name: t.string }), t.partial({ IPAddress: t.string, IPv6Address: t.string, Aliases: t.array(t.string) })])),
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
    /**
     * The image named on the command line (`weft run alpine`). Weft runs no images: it is shown by
     * `ps`, and when no Cmd is given it picks the default command (see `imageDefault`).
     */
    Image: t.string,
    /** Docker's `-i` detached (`run -dit`): the command's stdin stays open (a FIFO), so a shell waits instead of exiting. */
    OpenStdin: t.boolean,
    /** The client runs Cmd itself, attached to its terminal (`weft run` without -d): the agent records it but does not start it. */
    Attached: t.boolean,
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
  /** `GlobalIPv6Address` (CIDR, Docker's name): on networks with IPv6 (`--ipv6`). */
  readonly Networks: Readonly<Record<string, { readonly IPAddress: string; readonly MacAddress: string; readonly Aliases: readonly string[]; readonly EndpointID: string; readonly NetworkID?: string; readonly GlobalIPv6Address?: string }>>;
  readonly Ports: readonly PortMapping[];
  /** Path of the resolv.conf written for it (`/etc/netns/<name>/resolv.conf`); '' for a bare endpoint. */
  readonly ResolvConf: string;
  /** A bare endpoint (see SandboxCreateRequest.Bare): NetnsPath is the shared namespace. */
  readonly Bare?: boolean;
  /** The image named at `run` ('' when none). */
  readonly Image: string;
  /** When its command last started and stopped (ISO times; '' when never). */
  readonly StartedAt: string;
  readonly FinishedAt: string;
  /** The client runs its command (see SandboxCreateRequest.Attached). */
  readonly Attached?: boolean;
}

/**
 * What an image stands for when no command is given: Weft runs no images, so the images of the
 * Docker guides get a host command of the same behaviour. `shell`: `/bin/sh` (alpine, busybox,
 * ubuntu, debian); `http`: an HTTP server on the port (nginx, httpd: the guides browse port 80).
 */
export type ImageDefault = { readonly kind: 'shell' } | { readonly kind: 'http'; readonly port: number };

export function imageDefault(image: string): ImageDefault | undefined {
  // registry/namespace/name:tag@digest → name
  const name = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '').split('/').pop() ?? '';
  if (['alpine', 'busybox', 'ubuntu', 'debian'].includes(name)) return { kind: 'shell' };
  if (name === 'nginx' || name === 'httpd') return { kind: 'http', port: 80 };
  return undefined;
}

/** A network as the engine sees it, whatever its source (its own store or the control plane). */
export interface NetDef {
  readonly Id: string;
  readonly Name: string;
  readonly Driver: string;
  readonly Scope: 'local' | 'swarm';
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
  readonly Attachable: boolean;
  readonly Internal: boolean;
  readonly Encrypted: boolean;
  readonly EnableIPv6: boolean;
  /** False: an IPv6-only network (no IPv4 subnet). Absent: true (records made before IPv6-only networks). */
  readonly EnableIPv4?: boolean;
  readonly Subnets: readonly { readonly Subnet: string; readonly Gateway: string; readonly IPRange?: string; readonly AuxiliaryAddresses?: Readonly<Record<string, string>> }[];
  readonly VNIs: readonly number[];
  readonly Created: string;
  /** The swarm's routing-mesh network (created by the services leader; only service tasks and mesh helpers attach). */
  readonly Ingress?: boolean;
}

/**
 * Asked before a network is removed (e.g. the services plugin refuses to remove the ingress
 * network while a service publishes ports); throws to refuse.
 */
export type RemoveCheck = (def: NetDef) => Promise<void> | void;

/**
 * Makes a sandbox a service task (used by the `services` plugin). As in Docker, a service's tasks
 * may attach to any swarm network, attachable or not; the endpoint record carries the service
 * name, endpoint mode and slot so the embedded DNS answers the service name and `tasks.NAME`.
 */
export interface TaskOptions {
  /** The service; empty for a helper sandbox of the services plugin (routing mesh), which is not published as a task. */
  readonly service: string;
  readonly slot: number;
  readonly endpointMode: 'vip' | 'dnsrr';
  /** Network ID → the service's virtual IP on it (endpoint mode vip, when one was allocated). */
  readonly vips?: Readonly<Record<string, string>>;
  /** Network ID → the service's IPv6 virtual IP on it (dual-stack networks). */
  readonly vips6?: Readonly<Record<string, string>>;
}

/**
 * The `engine` service. Operations that change state run one at a time; errors are thrown as
 * `WeftException`s with Docker's wording where Docker has one.
 */
export interface Engine {
  // networks
  /** Every network this node knows: local ones, then the swarm's (when a control plane is loaded). */
  listDefs(): Promise<NetDef[]>;
  /** A network by ID, name or unique ID prefix (NotFound, or BadRequest when ambiguous). */
  resolve(ref: string): Promise<NetDef>;
  /** True when `netId` is programmed on this host (a local sandbox uses it). */
  instantiated(netId: string): Promise<boolean>;
  createNetwork(req: NetworkCreateRequest): Promise<NetworkCreateResponse>;
  removeNetwork(ref: string): Promise<void>;
  /** Registers a check run before any network is removed (see RemoveCheck); returns its removal. */
  addRemoveCheck(check: RemoveCheck): () => void;
  /** The API's view of a network: local and cluster endpoints, peers, address use, MTU. */
  networkView(def: NetDef): Promise<Network>;
  // sandboxes
  sandboxes(): Promise<Sandbox[]>;
  sandbox(name: string): Promise<Sandbox>;
  /** `task` marks the sandbox as a service task or a helper of the services plugin (see TaskOptions). */
  createSandbox(req: SandboxCreateRequest, task?: TaskOptions): Promise<Sandbox>;
  removeSandbox(name: string, force: boolean): Promise<void>;
  /**
   * Docker's `stop`: ends the command (SIGTERM, then SIGKILL after `timeoutMs`), closes published
   * ports and leaves every network (a swarm network leaves this host with its last sandbox); the
   * sandbox is kept, exited. `exitCode`: the status of an attached command, reported by the client.
   */
  stopSandbox(name: string, opts?: { readonly exitCode?: number; readonly timeoutMs?: number }): Promise<void>;
  /** Docker's `start`: attaches the networks again and starts the command. */
  startSandbox(name: string): Promise<Sandbox>;
  /** `ip`: the IPv4 address asked for (Docker's `--ip`), `ip6` the IPv6 one (`--ip6`); else allocated. */
  connect(ref: string, sandbox: string, ip: string | undefined, aliases: readonly string[], ip6?: string): Promise<void>;
  disconnect(ref: string, sandbox: string, force: boolean): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Events (see EventMap): what the engine did on this host, for `weft system events` and metrics.

/** `engine.network`: a network was created or removed through this host's engine. */
export interface EngineNetworkEvent {
  readonly action: 'create' | 'destroy';
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly scope: 'local' | 'swarm';
}

/** `engine.sandbox`: a sandbox was created or destroyed on this host. */
export interface EngineSandboxEvent {
  readonly action: 'create' | 'destroy';
  readonly id: string;
  readonly name: string;
}

/** `engine.attach`: a sandbox of this host was attached to a network, or detached from it. */
export interface EngineAttachEvent {
  readonly action: 'attach' | 'detach';
  readonly sandbox: string;
  readonly network: string;
  readonly networkName: string;
  readonly endpoint: string;
  /** `10.0.0.5/24`. */
  readonly address: string;
  /** How long the attach (or detach) took, IPAM and driver calls included. */
  readonly durationMs: number;
}
