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
 * | POST | /nodes/{id or name}/promote | → {} (managers) |
 * | POST | /nodes/{id or name}/demote | → {} (managers) |
 * | GET | /networks | → Network[] |
 * | POST | /networks/create | NetworkCreateRequest → NetworkCreateResponse |
 * | GET | /networks/{id or name} | → Network |
 * | DELETE | /networks/{id or name} | → {} |
 * | POST | /networks/prune | → { NetworksDeleted: string[] } |
 * | POST | /networks/{id}/connect | NetworkConnectRequest → {} |
 * | POST | /networks/{id}/disconnect | NetworkDisconnectRequest → {} |
 * | GET | /networks/{id}/peers | → NetworkPeers |
 * | GET | /events[?since=S&until=S&filters={"type":["network"]}] | → one event per line, streamed (Docker's /events) |
 * | POST | /networks/{id}/peers | PeerAddRequest → {} |
 * | DELETE | /networks/{id}/peers/{mac} | → {} |
 * | GET | /sandboxes | → Sandbox[] |
 * | POST | /sandboxes/create | SandboxCreateRequest → Sandbox |
 * | GET | /sandboxes/{name} | → Sandbox |
 * | DELETE | /sandboxes/{name}[?force=1] | → {} |
 * | POST | /sandboxes/{name}/stop[?t=SECONDS][&exitcode=N] | → {} |
 * | POST | /sandboxes/{name}/start | → Sandbox |
 */
import * as t from 'io-ts';
export { IPAMConfig, NetworkCreateRequest, PortMapping, SandboxCreateRequest, PortConfig, ServiceSpec } from '@weft/kernel';
export type { NetworkCreateResponse, NetworkEndpoint, Network, Sandbox, ServiceCreateResponse, Service, Task } from '@weft/kernel';
import type { NetworkEndpoint } from '@weft/kernel';

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
  /** On managers: where the swarm's state lives (`embedded:` or the etcd endpoints, never credentials). */
  readonly ClusterStore?: string;
  readonly Members: number;
  readonly Networks: number;
  readonly Sandboxes: number;
  readonly CryptoBackend: string;
  readonly DataPath: { readonly Addr: string; readonly Port: number };
  readonly Gossip: {
    readonly Addr: string;
    readonly Port: number;
    readonly Encrypted: boolean;
    /** Epoch of the primary gossip key when the keys come from the swarm's key ring (never the key). */
    readonly KeyEpoch?: number;
    /** Keys installed: the primary seals, all open. */
    readonly Keys?: number;
    /** Inbound datagrams and TCP streams refused for lacking a valid key, since the agent started. */
    readonly Refused?: { readonly Packets: number; readonly Streams: number };
  };
  readonly Os: string;
  readonly StateDir: string;
  readonly Plugins: readonly { readonly Name: string; readonly Version: string; readonly Provides: readonly string[] }[];
}

/** `--cluster-store URL` and etcd's TLS files (PEM paths on the agent's host). */
export const ClusterStoreRequest = t.intersection([t.type({ URL: t.string }), t.partial({ CA: t.string, Cert: t.string, Key: t.string })]);
export type ClusterStoreRequest = t.TypeOf<typeof ClusterStoreRequest>;

export const SwarmInitRequest = t.partial({
  /** Where the swarm's state lives (default: the agent's --cluster-store, else `embedded:`). */
  ClusterStore: ClusterStoreRequest,
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
  t.partial({
    AdvertiseAddr: t.string,
    DataPathAddr: t.string,
    ListenAddr: t.string,
    /** TLS files for the swarm's cluster store, when joining as a manager. */
    ClusterStore: t.partial({ CA: t.string, Cert: t.string, Key: t.string }),
  }),
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
  /** The swarm role (Docker's Spec.Role); absent for gossip members outside the swarm. */
  readonly Role?: 'manager' | 'worker';
  readonly Tags: Readonly<Record<string, string>>;
  /**
   * Gossip encryption as this node sees it: whether its gossip with the node is encrypted, and
   * the epoch of the node's primary gossip key (its `gk` tag). Absent for nodes gossip does not know.
   */
  readonly Gossip?: { readonly Encrypted: boolean; readonly KeyEpoch?: number };
}

// Networks and sandboxes: the engine contract's shapes (packages/kernel/src/contracts/engine.ts), re-exported above.

export const NetworkConnectRequest = t.intersection([
  t.type({ Container: t.string }),
  t.partial({ EndpointConfig: t.partial({ IPAddress: t.string, IPv6Address: t.string, Aliases: t.array(t.string) }) }),
]);
export type NetworkConnectRequest = t.TypeOf<typeof NetworkConnectRequest>;

export const NetworkDisconnectRequest = t.intersection([t.type({ Container: t.string }), t.partial({ Force: t.boolean })]);
export type NetworkDisconnectRequest = t.TypeOf<typeof NetworkDisconnectRequest>;

/** Frames lost to or from one peer, by reason. */
export interface PeerDrops {
  /** Frames it sent for no endpoint of this host (unknown unicast). */
  readonly NoRoute: number;
  /** Envelopes from it whose tag did not verify (tampered, or a key this host lacks). */
  readonly Auth: number;
  /** Envelopes from it already seen or left of the anti-replay window. */
  readonly Replay: number;
  /** Its fragments that were malformed, or whose group was evicted before it was complete. */
  readonly Reassembly: number;
  /** Frames to it larger than the network's MTU. */
  readonly MTU: number;
  /** Envelopes from it under no key of the ring, or a retired one. */
  readonly Key: number;
  /** Sends to it the socket refused, and seal failures. */
  readonly Send: number;
}

/**
 * One remote VTEP of a network as this host's data path sees it: the node it belongs to, or a
 * static peer (`network peer add`). Counters are since the VTEP's first peer was added here;
 * `Auth`, `Replay`, `Reassembly` and `Key` drops are the VTEP's over all encrypted networks (an
 * envelope that does not open hides its network).
 */
export interface PeerView {
  /** Node name; empty for a static peer. */
  readonly Node: string;
  readonly VTEP: string;
  /** Remote endpoints (MACs) behind it on this network. */
  readonly Endpoints: number;
  readonly Static: boolean;
  /** Key epoch of the SA this host seals toward it with; -1 when the network is not encrypted or no SA exists. */
  readonly KeyEpoch: number;
  /** Age of that SA, ms (0 without one). */
  readonly SAAgeMs: number;
  readonly TxPackets: number;
  readonly TxBytes: number;
  readonly RxPackets: number;
  readonly RxBytes: number;
  readonly Drops: PeerDrops;
  /** Every raw counter of the data path for this VTEP on this network (see @weft/vxlan's COUNTER_FIELDS). */
  readonly Counters: Readonly<Record<string, number>>;
  /** The data plane that host carries the network on (`kernel`, `userspace`), from its endpoint records. */
  readonly DataPlane?: 'kernel' | 'userspace';
}

export interface NetworkPeers {
  readonly Network: string;
  readonly VNI: number;
  readonly Encrypted: boolean;
  /** The data plane this host carries the network on. */
  readonly DataPlane?: 'kernel' | 'userspace';
  readonly Peers: readonly PeerView[];
  readonly Endpoints: readonly NetworkEndpoint[];
  /**
   * Sums since the network came up on this host: `Local` over its sandboxes' ports (`rx_*` read
   * from them, `tx_*` written to them), `Remote` over its peers (`rx_*` from them, `tx_*` to them).
   */
  readonly Counters: { readonly Local: Readonly<Record<string, number>>; readonly Remote: Readonly<Record<string, number>> };
}

/** `IP`: the peer's overlay address, IPv4 or IPv6; `IPv6`: its IPv6 address as well (a dual-stack peer, with an IPv4 `IP`). */
export const PeerAddRequest = t.intersection([t.type({ VTEP: t.string, MAC: t.string, IP: t.string }), t.partial({ IPv6: t.string })]);
export type PeerAddRequest = t.TypeOf<typeof PeerAddRequest>;


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

// Services and tasks: the services contract's shapes (packages/kernel/src/contracts/services.ts), re-exported above.

export interface StackSummary {
  readonly Name: string;
  readonly Services: number;
  readonly Networks?: number;
}

export const StackDeployRequest = t.intersection([
  t.type({ Name: t.string, ComposeFiles: t.array(t.string) }),
  /** Values of the variables the files refer to (`${VAR}`): the client's environment over its `.env` file, as Compose reads them. */
  t.partial({ Env: t.record(t.string, t.string) }),
]);
export type StackDeployRequest = t.TypeOf<typeof StackDeployRequest>;

export interface StackDeployResponse {
  readonly Services: readonly string[];
  readonly Networks: readonly string[];
  readonly Warnings?: readonly string[];
}
