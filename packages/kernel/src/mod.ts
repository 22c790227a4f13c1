/**
 * @weft/kernel — contracts only: driver and service interfaces, io-ts codecs with Docker's field
 * names, coded errors, the plugin registry and the invocation runtime. No I/O, no plugins.
 *
 * Every public name is listed here (no `export *`), so what the kernel promises is in one place.
 */
export { ErrorCategories, CategoryCode, KernelCodes, weftError, errors, isWeftError, throwable, WeftException, raise, orRaise, formatError, fromUnknown } from './errors.ts';
export type { ErrorCategory, WeftError, ErrorDetails } from './errors.ts';
export { parseVersion, compareVersions, satisfies } from './semver.ts';
export type { Version } from './semver.ts';
export { orEmpty, isIPv4, isIPv6, isIP, isCidr, show, Cidr, CidrOrEmpty, IP, IPOrEmpty, IPOrCidr, MacOrEmpty, NonEmptyString, ID, StringMap, AnyMap, Empty, IPAMData, EndpointInterface, NetworkRef, EndpointRef, ActivateResponse, Scope, CapabilitiesResponse, AllocateNetworkRequest, AllocateNetworkResponse, CreateNetworkRequest, CreateEndpointRequest, CreateEndpointResponse, EndpointOperInfoResponse, JoinRequest, StaticRoute, JoinResponse, ProgramExternalConnectivityRequest, DiscoveryRequest, EventNotifyRequest, IpamCapabilitiesResponse, AddressSpacesResponse, RequestPoolRequest, RequestPoolResponse, ReleasePoolRequest, RequestAddressRequest, RequestAddressResponse, ReleaseAddressRequest, DockerOptions, WeftOptions, WeftJoinOptions, contextPath, decode } from './codecs.ts';
export type { DecodeFailure } from './codecs.ts';
export { method, NetworkDriverMethods, IpamDriverMethods, BuiltinContracts } from './methods.ts';
export type { MethodSpec, NetworkDriverMethodName, IpamDriverMethodName, RequestOf, ResponseOf } from './methods.ts';
export type { Store } from './contracts/store.ts';
export { ClusterStoreCodes, jsonValue, parseJsonValue } from './contracts/cluster-store.ts';
export type { KeyValue, CompareResult, Compare, TxnOp, TxnOpResult, TxnRequest, TxnResponse, RangeOptions, RangeResult, WatchEvent, WatchOptions, Watcher, ClusterStoreStatus, ClusterStore, ClusterStoreOpenOptions, ClusterStoreBackend } from './contracts/cluster-store.ts';
export type { MemberState, Member, MemberEventType, MemberEvent, Membership, GossipEncryption } from './contracts/membership.ts';
export { GOSSIP_KEY_EPOCH_TAG } from './contracts/membership.ts';
export type { TableEntry, TableEvent, Tables } from './contracts/tables.ts';
export type { DataPathNetwork, PortSpec, PeerSpec, Counters, PeerStats, VtepStats, NetworkStats, DataPathStats, DataPath, DataPlane, DataPlaneChoice, DataPlacement } from './contracts/datapath.ts';
export { DATAPLANE_CHOICES } from './contracts/datapath.ts';
export { DropReason, CipherStatNames, CIPHER_MAX_PLAINTEXT, VXLAN_FLAGS_WORD, WORKER_CIPHER_EXPORT, loadWorkerCipher } from './contracts/cipher.ts';
export type { DataKey, KeyRing, CipherSession, Cipher, CipherWorker, WorkerCipherFactory } from './contracts/cipher.ts';
export { DATA_KEY_BYTES, generateDataKey, primaryIndex, initialRing, newestEpoch, rotate, toKeyRing } from './keyring.ts';
export type { ManagedRing } from './keyring.ts';
export { SwarmRole, NodeAvailability, NodePlatform, ControlSubnet, ControlNetwork, ControlNodeView, KeyRingInfo, SwarmInfo, ControlIpamConfig, ControlNetworkCreateRequest, ControlCreateResponse, ControlNetworkRef, ControlNodeRef, ControlNodeRemoveRequest, AttachRequest, BlockRequest, BlockRelease, BlockResponse, ClusterStoreConfig, SwarmInitRequest, SwarmInitResponse, SwarmJoinRequest, SwarmJoinResponse, SwarmLeaveRequest, JoinTokenRequest, JoinTokenResponse, ControlMethods } from './contracts/control.ts';
export type { ControlMethodName, NodeDescription, GossipBootstrap, GossipKeyRing, Control, ControlSnapshotEvent, ControlKeyRingEvent, ControlLeaderEvent, ControlNodeRemovedEvent } from './contracts/control.ts';
export type { DnsClient, DnsAnswerResult, Dns } from './contracts/dns.ts';
export type { BlockAllocator, BlockAllocatorOptions, BlockAllocators } from './contracts/blocks.ts';
export { IPAMConfig, NetworkCreateRequest, PortMapping, SandboxCreateRequest, imageDefault } from './contracts/engine.ts';
export type { ImageDefault } from './contracts/engine.ts';
export type { ContainerSandbox, Containers } from './contracts/containers.ts';
export type { NetworkCreateResponse, NetworkEndpoint, Network, Sandbox, NetDef, RemoveCheck, TaskOptions, Engine, EngineNetworkEvent, EngineSandboxEvent, EngineAttachEvent } from './contracts/engine.ts';
export type { PublishedPort, PortForwarding, Ports } from './contracts/ports.ts';
export { PortConfig, ServiceSpec } from './contracts/services.ts';
export type { ServiceCreateResponse, Service, Task, ServicesApi, ServiceEvent } from './contracts/services.ts';
export type { ServiceMap } from './services.ts';
export { KERNEL_VERSION, definePlugin } from './plugin.ts';
export type { Manifest, Logger, Services, EventSink, MethodMap, SpecRequest, SpecResponse, InvokeFn, Context, HandlerResult, Handler, Handlers, GuardPhase, GuardCall, GuardVerdict, Guard, ServiceFactory, EventHandler, PluginDefinition } from './plugin.ts';
export { memoryStore, getJson, putJson, listJson } from './store.ts';
export { memoryClusterStore, clusterKvStore, compareKeys, checkTxnWrites } from './cluster-store.ts';
export type { MemoryClusterStoreOptions } from './cluster-store.ts';
export { createSerial, createKeyedSerial, createKeyedRwLock } from './serial.ts';
export type { Serial, KeyedRwLock } from './serial.ts';
export { createEventBus } from './events.ts';
export { LATENCY_BOUNDS, createLatencyHistogram } from './contracts/stats.ts';
export type { LatencyHistogram, MembershipStats, TablesStats, DnsStats, ControlStats } from './contracts/stats.ts';
export type { EventMap, Topic, Listener, EventBus } from './events.ts';
export { MultiProviderContracts, resolvePlugins } from './registry.ts';
export type { LoadedPlugin, Resolution, PluginEntry } from './registry.ts';
export { silentLogger, createKernel } from './runtime.ts';
export type { KernelOptions, InvokeOptions, Kernel } from './runtime.ts';
export { ENDPOINTS_TABLE, EndpointRecord, encodeEndpointRecord, decodeEndpointRecord } from './records.ts';
