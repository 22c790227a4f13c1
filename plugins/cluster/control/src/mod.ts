/**
 * @weft/control — the swarm control plane: join tokens that pin the manager's Ed25519 key, an
 * authenticated and encrypted TCP channel (X25519 + ChaCha20-Poly1305 frames), the manager's
 * durable state (nodes, networks, VNIs, key rings, IPAM blocks) and the node side that caches it.
 */
export { controlPlugin, controlPlugin as default, ControlMethods, CONTROL_VERSION } from './plugin.ts';
export { ControlService, kernelRing, type ControlOptions } from './service.ts';
export { Manager, DEFAULT_HEARTBEAT_MS, LocalConfig, type ManagerOptions, type InitParams, type JoinParams, type ManagerStats } from './manager.ts';
export { NodeAgent, DEFAULT_PORT, type NodeOptions, NodeState } from './node.ts';
export { formatToken, parseToken, keyDigest, newSecret, TOKEN_PREFIX, type ParsedToken } from './token.ts';
export { ChannelError, connectChannel, acceptChannel, MAX_FRAME, MAGIC, Conn } from './channel.ts';
export { VniBitmap, VNI_AUTO_START, VNI_MAX } from './vni.ts';
export { Empty, NodeRecord, WireKey, WireKeyRing, Snapshot, JoinInfo, AuthToken, AuthNode, AuthMsg, ErrorWire, Welcome, Refused, AuthReply, RpcRequest, RpcResponse, RpcPush, RpcRole, RpcMessage, Role, Availability, Platform, SubnetRecord, NetworkRecord, NodeView, KeyRingInfo, SwarmInfo, IpamConfigEntry, NetworkCreateRequest, CreateResponse, NetworkRef, NodeRef, NodeRemoveRequest, AttachRequest, BlockRequestMsg, BlockReleaseMsg, BlockResponse, InitRequest, InitResponse, JoinRequest, JoinResponse, LeaveRequest, JoinTokenRequest, TokenResponse } from './codecs.ts';
export {
  RingState,
  Codes as ControlCodes,
  NOT_A_MANAGER,
  NOT_IN_SWARM,
  VXLANID_OPTION,
  DEFAULT_ROTATION_MS,
  createNetwork,
  rotateRing,
  findNetwork,
} from './state.ts';
export { FORMAT, PREFIX as CLUSTER_PREFIX, K as ClusterKeys, MetaRecord, FormatRecord } from './keys.ts';
export { ClusterView } from './view.ts';
export { Writes } from './writes.ts';
export { Presence, DEFAULT_LEASE_TTL_S } from './presence.ts';
export { ClusterStateV1, readV1, convertV1 } from './migrate.ts';
export { newId, parseDuration } from './util.ts';
