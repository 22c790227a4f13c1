export { API_VERSION, ClusterStoreRequest, SwarmInitRequest, SwarmJoinRequest, NetworkConnectRequest, NetworkDisconnectRequest, PeerAddRequest, StackDeployRequest, IPAMConfig, NetworkCreateRequest, PortMapping, SandboxCreateRequest, PortConfig, ServiceSpec } from './types.ts';
export type { Version, Role, Info, SwarmInitResponse, SwarmJoinResponse, KeyRingInfo, JoinTokenResponse, NodeStatus, Node, PeerDrops, PeerView, NetworkPeers, ApiErrorBody, StackSummary, StackDeployResponse, NetworkCreateResponse, NetworkEndpoint, Network, Sandbox, ServiceCreateResponse, Service, Task } from './types.ts';
export { DEFAULT_SOCKET, ApiError, socketFromHost, request, createClient, streamEvents } from './client.ts';
export type { RequestOptions, Client, EventsQuery, EventStream } from './client.ts';
