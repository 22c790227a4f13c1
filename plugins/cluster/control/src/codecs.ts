/**
 * io-ts codecs for everything the control plane stores, sends or accepts: network and node
 * records (Docker Engine API field names), the RPC envelope, and each method's request/response.
 */
import * as t from 'io-ts';
import { Cidr, IP, NonEmptyString, StringMap } from '@weft/kernel';

// ---------------------------------------------------------------------------------------------
// Records

export const Role = t.union([t.literal('worker'), t.literal('manager')]);
export type Role = t.TypeOf<typeof Role>;
export const Availability = t.union([t.literal('active'), t.literal('pause'), t.literal('drain')]);
export const Platform = t.type({ OS: t.string, Architecture: t.string });
export type Platform = t.TypeOf<typeof Platform>;

export const NodeRecord = t.intersection([
  t.type({
    ID: t.string,
    Name: t.string,
    Role,
    /** Ed25519 public key (base64) the node authenticates with after joining. */
    PublicKey: t.string,
    /** Advertise address (IP). */
    Addr: t.string,
    Platform,
    Availability,
    CreatedAt: t.string,
    UpdatedAt: t.string,
    /** The manager that holds the state (Weft has one writer; see README). */
    Leader: t.boolean,
    /** Set by `swarm leave`; the record stays until `node rm`, like Docker's "Down" node. */
    Left: t.boolean,
  }),
  t.partial({ GossipAddr: t.string, DataPathAddr: t.string, DataPathPort: t.number, ListenAddr: t.string }),
]);
export type NodeRecord = t.TypeOf<typeof NodeRecord>;

export const SubnetRecord = t.intersection([
  t.type({ Subnet: Cidr, Gateway: t.string }),
  t.partial({ IPRange: Cidr, AuxiliaryAddresses: StringMap }),
]);
export type SubnetRecord = t.TypeOf<typeof SubnetRecord>;

export const NetworkRecord = t.intersection([t.type({
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
  Subnets: t.array(SubnetRecord),
  /** One VNI per subnet, same order. */
  VNIs: t.array(t.number),
  Created: t.string,
  /** Node ID → sandboxes of that node attached to the network. */
  Attachments: t.record(t.string, t.array(t.string)),
}), t.partial({
  /** The swarm's routing-mesh network (Docker's `Ingress: true`); absent on every other network. */
  Ingress: t.boolean,
})]);
export type NetworkRecord = t.TypeOf<typeof NetworkRecord>;

export const WireKey = t.type({ Epoch: t.number, Key: t.string });
export type WireKey = t.TypeOf<typeof WireKey>;

/** What nodes receive: secret key bytes (base64), so only over the encrypted channel. */
export const WireKeyRing = t.type({
  /** Rotations applied so far; nodes apply a ring only if this is newer than theirs. */
  Rotation: t.number,
  /** Data-path keys, oldest first; the primary (send) key is `Keys[Primary]`. */
  Keys: t.array(WireKey),
  Primary: t.number,
  /** Gossip (memberlist keyring) keys, rotated together with the data-path keys; first = primary. */
  Gossip: t.array(WireKey),
  NextRotationAt: t.number,
  IntervalMs: t.number,
});
export type WireKeyRing = t.TypeOf<typeof WireKeyRing>;

/** What the manager pushes after every change (and returns from Sync): the whole shared state. */
export const Snapshot = t.type({ Seq: t.number, Networks: t.array(NetworkRecord), KeyRing: WireKeyRing, GossipPeers: t.array(t.string), Managers: t.array(t.string) });
export type Snapshot = t.TypeOf<typeof Snapshot>;

// ---------------------------------------------------------------------------------------------
// Views (Docker Engine API shapes)

export const NodeView = t.intersection([
  t.type({
    ID: t.string,
    CreatedAt: t.string,
    UpdatedAt: t.string,
    Spec: t.type({ Role, Availability }),
    Description: t.type({ Hostname: t.string, Platform }),
    /** `ready`, `down`, `left` (or what the gossip hook reports: `suspect`, ...). */
    Status: t.type({ State: t.string, Addr: t.string }),
  }),
  t.partial({ ManagerStatus: t.type({ Leader: t.boolean, Reachability: t.string, Addr: t.string }), Self: t.boolean }),
]);
export type NodeView = t.TypeOf<typeof NodeView>;

export const KeyRingInfo = t.type({ Rotation: t.number, Epochs: t.array(t.number), PrimaryEpoch: t.number, NextRotationAt: t.number, IntervalMs: t.number });
export type KeyRingInfo = t.TypeOf<typeof KeyRingInfo>;

// ---------------------------------------------------------------------------------------------
// Requests

export const IpamConfigEntry = t.partial({ Subnet: Cidr, Gateway: IP, IPRange: Cidr, AuxiliaryAddresses: StringMap });
export const NetworkCreateRequest = t.intersection([
  t.type({ Name: NonEmptyString }),
  t.partial({
    Driver: t.string,
    Options: StringMap,
    Labels: StringMap,
    Attachable: t.boolean,
    Internal: t.boolean,
    EnableIPv6: t.boolean,
    Ingress: t.boolean,
    IPAM: t.partial({ Driver: t.string, Options: StringMap, Config: t.array(IpamConfigEntry) }),
  }),
]);
export type NetworkCreateRequest = t.TypeOf<typeof NetworkCreateRequest>;

export const NetworkRef = t.type({ Network: NonEmptyString });
export const NodeRef = t.type({ Node: NonEmptyString });
export const NodeRemoveRequest = t.intersection([NodeRef, t.partial({ Force: t.boolean })]);
export const AttachRequest = t.intersection([t.type({ Network: NonEmptyString, Sandbox: NonEmptyString }), t.partial({ Node: NonEmptyString })]);
export type AttachRequest = t.TypeOf<typeof AttachRequest>;
export const JoinTokenRequest = t.intersection([t.type({ Role }), t.partial({ Rotate: t.boolean })]);
export const BlockRequestMsg = t.intersection([t.type({ Network: NonEmptyString }), t.partial({ Subnet: Cidr })]);
export const BlockReleaseMsg = t.type({ Network: NonEmptyString, Block: Cidr });
export const Empty = t.type({});

export const InitRequest = t.partial({
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
export type InitRequest = t.TypeOf<typeof InitRequest>;
export const InitResponse = t.type({ NodeID: t.string, ClusterID: t.string, ListenAddr: t.string });

export const JoinRequest = t.intersection([
  t.type({ JoinToken: t.string, RemoteAddrs: t.array(t.string) }),
  t.partial({ AdvertiseAddr: t.string, DataPathAddr: t.string, DataPathPort: t.number, ListenAddr: t.string, NodeName: t.string, OS: t.string, GossipAddr: t.string }),
]);
export type JoinRequest = t.TypeOf<typeof JoinRequest>;
export const JoinResponse = t.type({ NodeID: t.string, Role, ClusterID: t.string });
export const LeaveRequest = t.partial({ Force: t.boolean });
export const TokenResponse = t.type({ Token: t.string });
export const CreateResponse = t.intersection([t.type({ Id: t.string }), t.partial({ Warning: t.string })]);
export const BlockResponse = t.type({ Block: Cidr });
export const SwarmInfo = t.intersection([
  t.type({ NodeID: t.string, Role, ClusterID: t.string, Managers: t.array(t.string), ManagerReachable: t.boolean }),
  t.partial({ KeyRing: KeyRingInfo, ListenAddr: t.string }),
]);
export type SwarmInfo = t.TypeOf<typeof SwarmInfo>;

// ---------------------------------------------------------------------------------------------
// Channel messages

/** What a joiner tells the manager about itself. */
export const JoinInfo = t.intersection([
  t.type({ Name: t.string, Addr: t.string, PublicKey: t.string, Platform }),
  t.partial({ GossipAddr: t.string, DataPathAddr: t.string, DataPathPort: t.number, ListenAddr: t.string }),
]);
export type JoinInfo = t.TypeOf<typeof JoinInfo>;

export const AuthToken = t.type({ t: t.literal('auth'), mode: t.literal('token'), proof: t.string, join: JoinInfo });
export const AuthNode = t.type({ t: t.literal('auth'), mode: t.literal('node'), node: t.string, sig: t.string });
export const AuthMsg = t.union([AuthToken, AuthNode]);

export const ErrorWire = t.intersection([
  t.type({ category: t.string, code: t.string, message: t.string }),
  t.partial({ hint: t.string, plugin: t.string }),
]);
export type ErrorWire = t.TypeOf<typeof ErrorWire>;

export const Welcome = t.type({
  t: t.literal('welcome'),
  NodeID: t.string,
  Role,
  ClusterID: t.string,
  ManagerPublicKey: t.string,
  Snapshot,
});
export type Welcome = t.TypeOf<typeof Welcome>;
export const Refused = t.type({ t: t.literal('refused'), err: ErrorWire });
export const AuthReply = t.union([Welcome, Refused]);

export const RpcRequest = t.type({ t: t.literal('req'), id: t.number, m: t.string, p: t.unknown });
export const RpcResponse = t.intersection([t.type({ t: t.literal('res'), id: t.number }), t.partial({ ok: t.unknown, err: ErrorWire })]);
export const RpcPush = t.type({ t: t.literal('push'), p: Snapshot });
export const RpcMessage = t.union([RpcRequest, RpcResponse, RpcPush]);
export type RpcMessage = t.TypeOf<typeof RpcMessage>;
