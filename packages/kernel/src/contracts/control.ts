/**
 * `control`: the swarm control plane (Docker's swarmkit manager + agent, reduced to networks).
 * Provided by @weft/control; required by the guards that look at networks and nodes, and used by
 * the engine, the Docker plugin and the services plugin through its methods.
 *
 * Two faces, one contract:
 * - kernel methods `Swarm.*`, `Node.*`, `Network.*`, `Blocks.*` (`ControlMethods`, codecs below).
 *   Callers that change cluster state go through `ctx.invoke('control', …)` so guards see the call
 *   (e.g. windows-guard on `Network.Attach`) and outputs are checked against the codecs; the
 *   results are typed (see `MethodMap`), so no caller casts them.
 * - the `control` service (`Control`), for reads a guard or trigger needs synchronously or without
 *   re-entering the kernel (a guard of `Network.Attach` must not invoke `Network.Attach`).
 *
 * Shapes use the Docker Engine API's field names (`Id`, `Subnets`, `Spec.Role`, ...).
 */
import * as t from 'io-ts';
import { Cidr, IP, NonEmptyString, StringMap } from '../codecs.ts';
import { method } from '../methods.ts';
import type { ClusterStore } from './cluster-store.ts';
import type { ControlStats } from './stats.ts';

// ---------------------------------------------------------------------------------------------
// Records

export const SwarmRole = t.union([t.literal('worker'), t.literal('manager')]);
export type SwarmRole = t.TypeOf<typeof SwarmRole>;
export const NodeAvailability = t.union([t.literal('active'), t.literal('pause'), t.literal('drain')]);
export type NodeAvailability = t.TypeOf<typeof NodeAvailability>;
export const NodePlatform = t.type({ OS: t.string, Architecture: t.string });
export type NodePlatform = t.TypeOf<typeof NodePlatform>;

export const ControlSubnet = t.intersection([
  t.type({ Subnet: Cidr, Gateway: t.string }),
  t.partial({ IPRange: Cidr, AuxiliaryAddresses: StringMap }),
]);
export type ControlSubnet = t.TypeOf<typeof ControlSubnet>;

/** A swarm-scope network as the manager records it and every node caches it. */
export const ControlNetwork = t.intersection([t.type({
  Id: t.string,
  Name: t.string,
  Driver: t.string,
  Scope: t.literal('swarm'),
  Options: StringMap,
  Labels: StringMap,
  Attachable: t.boolean,
  Internal: t.boolean,
  Encrypted: t.boolean,
  EnableIPv6: t.boolean,
  Subnets: t.array(ControlSubnet),
  /** One VNI per subnet, same order. */
  VNIs: t.array(t.number),
  Created: t.string,
  /** Node ID → sandboxes of that node attached to the network. */
  Attachments: t.record(t.string, t.array(t.string)),
}), t.partial({
  /** The swarm's routing-mesh network (Docker's `Ingress: true`); absent on every other network. */
  Ingress: t.boolean,
  /** `false` on an IPv6-only network (Docker's `--ipv4=false`); absent: the network has IPv4. */
  EnableIPv4: t.boolean,
})]);
export type ControlNetwork = t.TypeOf<typeof ControlNetwork>;

/** A node as `docker node ls/inspect` shows it. */
export const ControlNodeView = t.intersection([
  t.type({
    ID: t.string,
    CreatedAt: t.string,
    UpdatedAt: t.string,
    Spec: t.type({ Role: SwarmRole, Availability: NodeAvailability }),
    Description: t.type({ Hostname: t.string, Platform: NodePlatform }),
    /** `ready`, `down`, `left` (or what the gossip hook reports: `suspect`, ...). */
    Status: t.type({ State: t.string, Addr: t.string }),
  }),
  t.partial({ ManagerStatus: t.type({ Leader: t.boolean, Reachability: t.string, Addr: t.string }), Self: t.boolean }),
]);
export type ControlNodeView = t.TypeOf<typeof ControlNodeView>;

export const KeyRingInfo = t.type({ Rotation: t.number, Epochs: t.array(t.number), PrimaryEpoch: t.number, NextRotationAt: t.number, IntervalMs: t.number });
export type KeyRingInfo = t.TypeOf<typeof KeyRingInfo>;

export const SwarmInfo = t.intersection([
  t.type({ NodeID: t.string, Role: SwarmRole, ClusterID: t.string, Managers: t.array(t.string), ManagerReachable: t.boolean }),
  t.partial({
    KeyRing: KeyRingInfo,
    ListenAddr: t.string,
    /** Node ID of the leader (managers only). */
    Leader: t.string,
    /** Where the cluster state lives (managers only): `embedded:` or the etcd endpoints (never credentials). */
    ClusterStore: t.string,
  }),
]);
export type SwarmInfo = t.TypeOf<typeof SwarmInfo>;

// ---------------------------------------------------------------------------------------------
// Requests and responses

const None = t.type({});
type None = t.TypeOf<typeof None>;

export const ControlIpamConfig = t.partial({ Subnet: Cidr, Gateway: IP, IPRange: Cidr, AuxiliaryAddresses: StringMap });
export const ControlNetworkCreateRequest = t.intersection([
  t.type({ Name: NonEmptyString }),
  t.partial({
    Driver: t.string,
    Options: StringMap,
    Labels: StringMap,
    Attachable: t.boolean,
    Internal: t.boolean,
    EnableIPv6: t.boolean,
    EnableIPv4: t.boolean,
    Ingress: t.boolean,
    IPAM: t.partial({ Driver: t.string, Options: StringMap, Config: t.array(ControlIpamConfig) }),
  }),
]);
export type ControlNetworkCreateRequest = t.TypeOf<typeof ControlNetworkCreateRequest>;
export const ControlCreateResponse = t.intersection([t.type({ Id: t.string }), t.partial({ Warning: t.string })]);

export const ControlNetworkRef = t.type({ Network: NonEmptyString });
export const ControlNodeRef = t.type({ Node: NonEmptyString });
export const ControlNodeRemoveRequest = t.intersection([ControlNodeRef, t.partial({ Force: t.boolean })]);

/** A sandbox attaching to (or leaving) a swarm network; `Node` is set when a manager records another node's attach. */
export const AttachRequest = t.intersection([t.type({ Network: NonEmptyString, Sandbox: NonEmptyString }), t.partial({ Node: NonEmptyString })]);
export type AttachRequest = t.TypeOf<typeof AttachRequest>;

/** A block of a network's subnet for this node to hand out addresses from (no two nodes share one). */
export const BlockRequest = t.intersection([t.type({ Network: NonEmptyString }), t.partial({ Subnet: Cidr })]);
export type BlockRequest = t.TypeOf<typeof BlockRequest>;
export const BlockRelease = t.type({ Network: NonEmptyString, Block: Cidr });
export type BlockRelease = t.TypeOf<typeof BlockRelease>;
export const BlockResponse = t.type({ Block: Cidr });

/** `--cluster-store URL` with etcd's TLS files (`--cluster-store-ca/-cert/-key`, PEM paths on the manager's host). */
export const ClusterStoreConfig = t.intersection([t.type({ URL: t.string }), t.partial({ CA: t.string, Cert: t.string, Key: t.string })]);
export type ClusterStoreConfig = t.TypeOf<typeof ClusterStoreConfig>;

export const SwarmInitRequest = t.partial({
  ClusterStore: ClusterStoreConfig,
  AdvertiseAddr: t.string,
  ListenAddr: t.string,
  DataPathAddr: t.string,
  DataPathPort: t.number,
  DefaultAddrPool: t.array(Cidr),
  SubnetSize: t.number,
  KeyRotationInterval: t.union([t.string, t.number]),
  NodeName: t.string,
  OS: t.string,
});
export type SwarmInitRequest = t.TypeOf<typeof SwarmInitRequest>;
export const SwarmInitResponse = t.type({ NodeID: t.string, ClusterID: t.string, ListenAddr: t.string });

export const SwarmJoinRequest = t.intersection([
  t.type({ JoinToken: t.string, RemoteAddrs: t.array(t.string) }),
  t.partial({
    AdvertiseAddr: t.string,
    DataPathAddr: t.string,
    DataPathPort: t.number,
    ListenAddr: t.string,
    NodeName: t.string,
    OS: t.string,
    GossipAddr: t.string,
    /** TLS files for the cluster store when joining as a manager (the URL comes from the swarm). */
    ClusterStore: t.partial({ CA: t.string, Cert: t.string, Key: t.string }),
  }),
]);
export type SwarmJoinRequest = t.TypeOf<typeof SwarmJoinRequest>;
export const SwarmJoinResponse = t.type({ NodeID: t.string, Role: SwarmRole, ClusterID: t.string });
export const SwarmLeaveRequest = t.partial({ Force: t.boolean });
export const JoinTokenRequest = t.intersection([t.type({ Role: SwarmRole }), t.partial({ Rotate: t.boolean })]);
export const JoinTokenResponse = t.type({ Token: t.string });

/** Every method of the control contracts, by full name. */
export const ControlMethods = {
  'Swarm.Init': method('Swarm', 'Init', SwarmInitRequest, SwarmInitResponse),
  'Swarm.Join': method('Swarm', 'Join', SwarmJoinRequest, SwarmJoinResponse),
  'Swarm.Leave': method('Swarm', 'Leave', SwarmLeaveRequest, None),
  'Swarm.JoinToken': method('Swarm', 'JoinToken', JoinTokenRequest, JoinTokenResponse),
  'Swarm.Inspect': method('Swarm', 'Inspect', None, SwarmInfo),
  'Swarm.RotateKeys': method('Swarm', 'RotateKeys', None, KeyRingInfo),
  'Node.List': method('Node', 'List', None, t.array(ControlNodeView)),
  'Node.Inspect': method('Node', 'Inspect', ControlNodeRef, ControlNodeView),
  'Node.Remove': method('Node', 'Remove', ControlNodeRemoveRequest, None),
  'Node.Promote': method('Node', 'Promote', ControlNodeRef, None),
  'Node.Demote': method('Node', 'Demote', ControlNodeRef, None),
  'Network.Create': method('Network', 'Create', ControlNetworkCreateRequest, ControlCreateResponse),
  'Network.Remove': method('Network', 'Remove', ControlNetworkRef, None),
  'Network.List': method('Network', 'List', None, t.array(ControlNetwork)),
  'Network.Inspect': method('Network', 'Inspect', ControlNetworkRef, ControlNetwork),
  'Network.Attach': method('Network', 'Attach', AttachRequest, ControlNetwork),
  'Network.Detach': method('Network', 'Detach', AttachRequest, ControlNetwork),
  'Blocks.Request': method('Blocks', 'Request', BlockRequest, BlockResponse),
  'Blocks.Release': method('Blocks', 'Release', BlockRelease, None),
} as const;
export type ControlMethodName = keyof typeof ControlMethods;

// ---------------------------------------------------------------------------------------------
// The service

/** ID, host name and platform of a node. */
export interface NodeDescription {
  readonly ID: string;
  readonly Name: string;
  readonly Platform: NodePlatform;
}

/** Gossip peers (`IP:port`) and keys (primary first) the swarm hands every node. */
export interface GossipBootstrap {
  readonly peers: string[];
  readonly keys: Uint8Array[];
}

/**
 * What the agent holds: the manager (after init), a node session (after join), or nothing.
 * Cluster writes on a worker fail with Docker's "not a swarm manager"; reads answer from the
 * node's cached copy of the manager's state. Each method behaves as the kernel method of the same
 * name, minus guards: callers that change state use `ctx.invoke` (see above).
 */
export interface Control {
  /** `undefined` outside a swarm. */
  readonly role: SwarmRole | undefined;
  readonly nodeId: string | undefined;

  init(req: SwarmInitRequest): Promise<t.TypeOf<typeof SwarmInitResponse>>;
  join(req: SwarmJoinRequest): Promise<t.TypeOf<typeof SwarmJoinResponse>>;
  leave(force: boolean): Promise<None>;
  joinToken(role: SwarmRole, rotate: boolean): Promise<t.TypeOf<typeof JoinTokenResponse>>;
  info(): SwarmInfo;
  rotateKeys(): Promise<KeyRingInfo>;
  /** Peers and keys for the membership plugin; `undefined` outside a swarm. */
  gossipBootstrap(): GossipBootstrap | undefined;

  nodes(): Promise<ControlNodeView[]>;
  inspectNode(ref: string): Promise<ControlNodeView>;
  removeNode(ref: string, force: boolean): Promise<None>;
  /** Docker's `node promote` / `node demote`: the node becomes a manager on the swarm's cluster store, or a worker. */
  promoteNode(ref: string): Promise<None>;
  demoteNode(ref: string): Promise<None>;
  /** Self when `nodeId` is absent (known even outside a swarm); other nodes are known on managers only. */
  describeNode(nodeId?: string): Promise<NodeDescription | undefined>;

  createNetwork(req: ControlNetworkCreateRequest): Promise<{ Id: string }>;
  removeNetwork(ref: string): Promise<None>;
  /** From the manager's state, or this node's cached copy (works without a manager); `Attachments` empty (`inspectNetwork` has them). */
  networks(): ControlNetwork[];
  /** By ID or name; throws NotFound. */
  inspectNetwork(ref: string): ControlNetwork;
  /** Like `inspectNetwork`, but a worker that does not know `ref` yet asks its manager. */
  lookupNetwork(ref: string): Promise<ControlNetwork>;
  /** Like `inspectNetwork`, `undefined` instead of NotFound, and `Attachments` empty (guards call it on every attach). */
  findNetwork(ref: string): ControlNetwork | undefined;
  attach(req: AttachRequest): Promise<ControlNetwork>;
  detach(req: AttachRequest): Promise<ControlNetwork>;

  /**
   * The swarm's cluster store, on managers (undefined on workers and outside a swarm). Plugins
   * keep their cluster-wide state under `weft/plugins/<plugin name>/`.
   */
  clusterStore(): ClusterStore | undefined;
  /** Whether this manager holds the leader lease: what must run once in the swarm runs here. */
  isLeader(): boolean;
  /** Optional, read-only: this node's RPCs to its manager (metrics). */
  stats?(): ControlStats;

  requestBlock(req: BlockRequest): Promise<t.TypeOf<typeof BlockResponse>>;
  releaseBlock(req: BlockRelease): Promise<None>;
}

// ---------------------------------------------------------------------------------------------
// Events (see EventMap)

/** `control.snapshot`: this node applied a newer copy of the manager's state. */
export interface ControlSnapshotEvent {
  readonly seq: number;
  /** IDs of the swarm's networks. */
  readonly networks: readonly string[];
}

/**
 * The swarm's gossip keys as memberlist wants them: primary first (the ring's second newest),
 * then the others; `epochs[i]` is the epoch of `keys[i]`. The membership provider applies them
 * in serf's order (install every new key, switch the primary, remove the rest), so a node that
 * has applied this ring and one still on the previous ring always share the sender's primary.
 */
export interface GossipKeyRing {
  readonly keys: readonly Uint8Array[];
  readonly epochs: readonly number[];
}

/** `control.keyring`: this node applied a newer key ring (the cipher has it already). */
export interface ControlKeyRingEvent {
  readonly rotation: number;
  /** Data-path key epochs, oldest first. */
  readonly epochs: readonly number[];
  /** The gossip keys for the membership provider (in-process only; never logged or shown). */
  readonly gossip: GossipKeyRing;
}

/** `control.leader`: this manager became the leader, or stopped being it. */
export interface ControlLeaderEvent {
  readonly leader: boolean;
  readonly nodeId: string;
}

/** `control.node.removed`: `node rm` on this manager. */
export interface ControlNodeRemovedEvent {
  readonly ID: string;
  readonly Name: string;
}
