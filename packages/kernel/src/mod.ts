/**
 * @weft/kernel — contracts only: driver and service interfaces, io-ts codecs with Docker's field
 * names, coded errors, the plugin registry and the invocation runtime. No I/O, no plugins.
 *
 * Every public name is listed here (no `export *`), so what the kernel promises is in one place.
 */
export { ErrorCategories, CategoryCode, KernelCodes, weftError, errors, isWeftError, WeftException, raise, formatError, fromUnknown } from './errors.ts';
export type { ErrorCategory, WeftError, ErrorDetails } from './errors.ts';
export { parseVersion, compareVersions, satisfies } from './semver.ts';
export type { Version } from './semver.ts';
export { orEmpty, isIPv4, isIPv6, isIP, isCidr, show, Cidr, CidrOrEmpty, IP, IPOrEmpty, IPOrCidr, MacOrEmpty, NonEmptyString, ID, StringMap, AnyMap, Empty, IPAMData, EndpointInterface, NetworkRef, EndpointRef, ActivateResponse, Scope, CapabilitiesResponse, AllocateNetworkRequest, AllocateNetworkResponse, CreateNetworkRequest, CreateEndpointRequest, CreateEndpointResponse, EndpointOperInfoResponse, JoinRequest, StaticRoute, JoinResponse, ProgramExternalConnectivityRequest, DiscoveryRequest, EventNotifyRequest, IpamCapabilitiesResponse, AddressSpacesResponse, RequestPoolRequest, RequestPoolResponse, ReleasePoolRequest, RequestAddressRequest, RequestAddressResponse, ReleaseAddressRequest, DockerOptions, contextPath, decode } from './codecs.ts';
export type { DecodeFailure } from './codecs.ts';
export { method, NetworkDriverMethods, IpamDriverMethods, BuiltinContracts } from './methods.ts';
export type { MethodSpec, NetworkDriverMethodName, IpamDriverMethodName, RequestOf, ResponseOf } from './methods.ts';
export type { Store } from './contracts/store.ts';
export type { MemberState, Member, MemberEventType, MemberEvent, Membership } from './contracts/membership.ts';
export type { TableEntry, TableEvent, Tables } from './contracts/tables.ts';
export type { DataPathNetwork, PortSpec, PeerSpec, Counters, DataPath } from './contracts/datapath.ts';
export { DropReason, CipherStatNames } from './contracts/cipher.ts';
export type { DataKey, KeyRing, CipherSession, Cipher } from './contracts/cipher.ts';
export { IPAMConfig, NetworkCreateRequest, PortMapping, SandboxCreateRequest } from './contracts/engine.ts';
export type { NetworkCreateResponse, NetworkEndpoint, Network, Sandbox, NetDef, RemoveCheck, TaskOptions, Engine } from './contracts/engine.ts';
export type { PublishedPort, PortForwarding, Ports } from './contracts/ports.ts';
export { PortConfig, ServiceSpec } from './contracts/services.ts';
export type { ServiceCreateResponse, Service, Task, ServicesApi } from './contracts/services.ts';
export type { ServiceMap } from './services.ts';
export { KERNEL_VERSION, definePlugin } from './plugin.ts';
export type { Manifest, Logger, Services, EventSink, InvokeFn, Context, HandlerResult, Handler, Handlers, GuardPhase, GuardCall, GuardVerdict, Guard, ServiceFactory, EventHandler, PluginDefinition } from './plugin.ts';
export { memoryStore, getJson, putJson } from './store.ts';
export { createEventBus } from './events.ts';
export type { Listener, EventBus } from './events.ts';
export { MultiProviderContracts, resolvePlugins } from './registry.ts';
export type { LoadedPlugin, Resolution, PluginEntry } from './registry.ts';
export { silentLogger, createKernel } from './runtime.ts';
export type { KernelOptions, InvokeOptions, Kernel } from './runtime.ts';
export { ENDPOINTS_TABLE, EndpointRecord, encodeEndpointRecord, decodeEndpointRecord } from './records.ts';
