/**
 * io-ts codecs for everything the control plane stores, sends or accepts. The public shapes
 * (network and node records, each method's request and response) are the kernel's `control`
 * contract (@weft/kernel contracts/control.ts), re-exported here under this package's names;
 * what stays here is private to the control plane: the manager's node record, the key ring on
 * the wire, the state snapshot and the channel's messages.
 */
import * as t from 'io-ts';
import { NodeAvailability as Availability, NodePlatform as Platform, SwarmRole as Role, ControlNetwork as NetworkRecord } from '@weft/kernel';

export {
  SwarmRole as Role,
  NodeAvailability as Availability,
  NodePlatform as Platform,
  ControlSubnet as SubnetRecord,
  ControlNetwork as NetworkRecord,
  ControlNodeView as NodeView,
  KeyRingInfo,
  SwarmInfo,
  ControlIpamConfig as IpamConfigEntry,
  ControlNetworkCreateRequest as NetworkCreateRequest,
  ControlCreateResponse as CreateResponse,
  ControlNetworkRef as NetworkRef,
  ControlNodeRef as NodeRef,
  ControlNodeRemoveRequest as NodeRemoveRequest,
  AttachRequest,
  BlockRequest as BlockRequestMsg,
  BlockRelease as BlockReleaseMsg,
  BlockResponse,
  SwarmInitRequest as InitRequest,
  SwarmInitResponse as InitResponse,
  SwarmJoinRequest as JoinRequest,
  SwarmJoinResponse as JoinResponse,
  SwarmLeaveRequest as LeaveRequest,
  JoinTokenRequest,
  JoinTokenResponse as TokenResponse,
} from '@weft/kernel';

export const Empty = t.type({});

// ---------------------------------------------------------------------------------------------
// Records


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
    /** Unused since cluster state is per key (the leader is `weft/leader`); kept for old records. */
    Leader: t.boolean,
    /** Set by `swarm leave`; the record stays until `node rm`, like Docker's "Down" node. */
    Left: t.boolean,
  }),
  t.partial({ GossipAddr: t.string, DataPathAddr: t.string, DataPathPort: t.number, ListenAddr: t.string }),
]);
export type NodeRecord = t.TypeOf<typeof NodeRecord>;


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

export const Welcome = t.intersection([
  t.type({
    t: t.literal('welcome'),
    NodeID: t.string,
    Role,
    ClusterID: t.string,
    ManagerPublicKey: t.string,
    Snapshot,
  }),
  /** For a manager: the cluster store's URL, which it opens itself (with its own TLS files). */
  t.partial({ Store: t.string }),
]);
export type Welcome = t.TypeOf<typeof Welcome>;
export const Refused = t.type({ t: t.literal('refused'), err: ErrorWire });
export const AuthReply = t.union([Welcome, Refused]);

export const RpcRequest = t.type({ t: t.literal('req'), id: t.number, m: t.string, p: t.unknown });
export const RpcResponse = t.intersection([t.type({ t: t.literal('res'), id: t.number }), t.partial({ ok: t.unknown, err: ErrorWire })]);
export const RpcPush = t.type({ t: t.literal('push'), p: Snapshot });
/** The node's role changed (`node promote`/`demote`): a new manager opens `Store` itself. */
export const RpcRole = t.intersection([t.type({ t: t.literal('role'), Role }), t.partial({ Store: t.string })]);
export type RpcRole = t.TypeOf<typeof RpcRole>;
export const RpcMessage = t.union([RpcRequest, RpcResponse, RpcPush, RpcRole]);
export type RpcMessage = t.TypeOf<typeof RpcMessage>;
