/**
 * The method table: every callable method, its contract, and the codecs of its request and
 * response. The plugin-socket gateway maps `/NetworkDriver.CreateNetwork` straight to the entry
 * of the same name. Plugins may add methods of their own contracts (see PluginDefinition.methods).
 */
import * as t from 'io-ts';
import * as c from './codecs.ts';

export interface MethodSpec<I = unknown, O = unknown> {
  /** `Contract.Method`, e.g. `NetworkDriver.Join`. */
  readonly name: string;
  readonly contract: string;
  readonly method: string;
  readonly request: t.Type<I, unknown, unknown>;
  readonly response: t.Type<O, unknown, unknown>;
  /** A provider of the contract must implement it (checked at load). */
  readonly required: boolean;
  /** What a caller gets when a provider lacks an optional method; absent → NotImplemented. */
  readonly fallback?: () => O;
}

export function method<I, O>(
  contract: string,
  name: string,
  request: t.Type<I, unknown, unknown>,
  response: t.Type<O, unknown, unknown>,
  opts: { required?: boolean; fallback?: () => O } = {},
): MethodSpec<I, O> {
  const spec: { -readonly [K in keyof MethodSpec<I, O>]: MethodSpec<I, O>[K] } = {
    name: `${contract}.${name}`,
    contract,
    method: name,
    request,
    response,
    required: opts.required ?? false,
  };
  if (opts.fallback !== undefined) spec.fallback = opts.fallback;
  return spec;
}

const req = { required: true };

/** Mirrors Docker's remote driver API (libnetwork driverapi + drivers/remote/api). */
export const NetworkDriverMethods = {
  GetCapabilities: method('NetworkDriver', 'GetCapabilities', c.Empty, c.CapabilitiesResponse, req),
  AllocateNetwork: method('NetworkDriver', 'AllocateNetwork', c.AllocateNetworkRequest, c.AllocateNetworkResponse),
  FreeNetwork: method('NetworkDriver', 'FreeNetwork', c.NetworkRef, c.Empty),
  CreateNetwork: method('NetworkDriver', 'CreateNetwork', c.CreateNetworkRequest, c.Empty, req),
  DeleteNetwork: method('NetworkDriver', 'DeleteNetwork', c.NetworkRef, c.Empty, req),
  CreateEndpoint: method('NetworkDriver', 'CreateEndpoint', c.CreateEndpointRequest, c.CreateEndpointResponse, req),
  DeleteEndpoint: method('NetworkDriver', 'DeleteEndpoint', c.EndpointRef, c.Empty, req),
  EndpointOperInfo: method('NetworkDriver', 'EndpointOperInfo', c.EndpointRef, c.EndpointOperInfoResponse, req),
  Join: method('NetworkDriver', 'Join', c.JoinRequest, c.JoinResponse, req),
  Leave: method('NetworkDriver', 'Leave', c.EndpointRef, c.Empty, req),
  ProgramExternalConnectivity: method('NetworkDriver', 'ProgramExternalConnectivity', c.ProgramExternalConnectivityRequest, c.Empty),
  RevokeExternalConnectivity: method('NetworkDriver', 'RevokeExternalConnectivity', c.EndpointRef, c.Empty),
  DiscoverNew: method('NetworkDriver', 'DiscoverNew', c.DiscoveryRequest, c.Empty),
  DiscoverDelete: method('NetworkDriver', 'DiscoverDelete', c.DiscoveryRequest, c.Empty),
  EventNotify: method('NetworkDriver', 'EventNotify', c.EventNotifyRequest, c.Empty),
} as const;

/** Mirrors Docker's remote IPAM API (libnetwork ipamapi + ipams/remote/api). */
export const IpamDriverMethods = {
  GetCapabilities: method('IpamDriver', 'GetCapabilities', c.Empty, c.IpamCapabilitiesResponse, {
    fallback: () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
  }),
  GetDefaultAddressSpaces: method('IpamDriver', 'GetDefaultAddressSpaces', c.Empty, c.AddressSpacesResponse, req),
  RequestPool: method('IpamDriver', 'RequestPool', c.RequestPoolRequest, c.RequestPoolResponse, req),
  ReleasePool: method('IpamDriver', 'ReleasePool', c.ReleasePoolRequest, c.Empty, req),
  RequestAddress: method('IpamDriver', 'RequestAddress', c.RequestAddressRequest, c.RequestAddressResponse, req),
  ReleaseAddress: method('IpamDriver', 'ReleaseAddress', c.ReleaseAddressRequest, c.Empty, req),
} as const;

export type NetworkDriverMethodName = keyof typeof NetworkDriverMethods;
export type IpamDriverMethodName = keyof typeof IpamDriverMethods;

type Req<M> = M extends MethodSpec<infer I, any> ? I : never;
type Res<M> = M extends MethodSpec<any, infer O> ? O : never;
export type RequestOf<T extends Record<string, MethodSpec<any, any>>, K extends keyof T> = Req<T[K]>;
export type ResponseOf<T extends Record<string, MethodSpec<any, any>>, K extends keyof T> = Res<T[K]>;

/** The built-in contracts that can have many providers (one per driver name). */
export const BuiltinContracts: Readonly<Record<string, Readonly<Record<string, MethodSpec<any, any>>>>> = {
  NetworkDriver: NetworkDriverMethods,
  IpamDriver: IpamDriverMethods,
};
