/**
 * io-ts codecs for every request and response of Docker's remote NetworkDriver and IpamDriver
 * protocols, with Docker's JSON field names exactly, so one value serves in-process and over the
 * plugin socket. Field shapes follow what Docker 20.10 really sends (see
 * shared/specs/docker-plugin-protocol.md): `Options` and `IPv6Data` may be `null`, argument-less
 * calls have empty bodies, addresses carry prefix lengths, `Gateway` in Join is a bare IP.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Decodes `null`/`undefined` to `empty`, otherwise defers to `codec`. */
export function orEmpty<C extends t.Mixed>(codec: C, empty: () => t.TypeOf<C>): t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  return new t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>(
    codec.name,
    codec.is,
    (u, c) => (u === null || u === undefined ? t.success(empty()) : codec.validate(u, c)),
    codec.encode,
  );
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Permissive IPv6 shape check; precise parsing lives in @weft/net (the kernel does no parsing work).
const IPV6 = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}
export function isIPv6(s: string): boolean {
  if (!IPV6.test(s)) return false;
  const dbl = s.split('::').length - 1;
  if (dbl > 1) return false;
  const groups = s.split(':');
  return groups.length <= 8 && groups.every((g, i) => g.length <= 4 || (i === groups.length - 1 && isIPv4(g)));
}
export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}
export function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len)) return false;
  const n = Number(len);
  return (isIPv4(ip) && n <= 32) || (isIPv6(ip) && n <= 128);
}

/** A short printable form of any value for messages: never throws, never echoes megabytes. */
export function show(v: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    return '(an unprintable value)';
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

function refinedString(name: string, ok: (s: string) => boolean, expected: string): t.Type<string, string, unknown> {
  return new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string' && ok(u),
    (u, c) =>
      typeof u === 'string' && ok(u) ? t.success(u) : t.failure(u, c, `expected ${expected}, got ${show(u)}`),
    (s) => s,
  );
}

/** An address with prefix length: `10.0.0.5/24`, `fd00::1/64`. */
export const Cidr = refinedString('Cidr', isCidr, 'an address with a prefix length such as "10.0.0.0/24"');
/** A CIDR or the empty string (Docker sends "" for "none given"). */
export const CidrOrEmpty = refinedString('CidrOrEmpty', (s) => s === '' || isCidr(s), 'a CIDR such as "10.0.0.0/24" or ""');
/** A bare IP address, no prefix. */
export const IP = refinedString('IP', isIP, 'a bare IP address such as "10.0.0.1"');
export const IPOrEmpty = refinedString('IPOrEmpty', (s) => s === '' || isIP(s), 'a bare IP address or ""');
/** An IP with or without prefix length (Docker releases addresses without the mask). */
export const IPOrCidr = refinedString('IPOrCidr', (s) => isIP(s) || isCidr(s), 'an IP address such as "10.0.0.5"');
export const MacOrEmpty = refinedString(
  'MacOrEmpty',
  (s) => s === '' || /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(s),
  'a MAC address such as "02:42:0a:00:00:05" or ""',
);
export const NonEmptyString = refinedString('NonEmptyString', (s) => s.length > 0, 'a non-empty string');
/** Docker's IDs: 64 hex (local), 25 base-36 (swarm), or any non-empty token from Weft itself. */
export const ID = refinedString('ID', (s) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(s), 'an ID of letters, digits, "_", "." or "-"');

export const StringMap = orEmpty(t.record(t.string, t.string), () => ({}) as Record<string, string>);
export const AnyMap = orEmpty(t.record(t.string, t.unknown), () => ({}) as Record<string, unknown>);

/** An empty request body (argument-less calls) or an empty response: `{}` or `""`. */
export const Empty = orEmpty(t.type({}), () => ({}));
export type Empty = t.TypeOf<typeof Empty>;

// ---------------------------------------------------------------------------------------------
// Shared structures

export const IPAMData = t.intersection([
  t.type({ Pool: Cidr }),
  t.partial({
    AddressSpace: t.string,
    Gateway: CidrOrEmpty,
    AuxAddresses: StringMap,
  }),
]);
export type IPAMData = t.TypeOf<typeof IPAMData>;
const IPAMDataList = orEmpty(t.array(IPAMData), () => [] as IPAMData[]);

export const EndpointInterface = t.partial({
  Address: CidrOrEmpty,
  AddressIPv6: CidrOrEmpty,
  MacAddress: MacOrEmpty,
});
export type EndpointInterface = t.TypeOf<typeof EndpointInterface>;

export const NetworkRef = t.type({ NetworkID: ID });
export const EndpointRef = t.type({ NetworkID: ID, EndpointID: ID });

// ---------------------------------------------------------------------------------------------
// Plugin handshake

export const ActivateResponse = t.type({ Implements: t.array(t.string) });
export type ActivateResponse = t.TypeOf<typeof ActivateResponse>;

// ---------------------------------------------------------------------------------------------
// NetworkDriver

export const Scope = t.union([t.literal('local'), t.literal('global')]);
export const CapabilitiesResponse = t.intersection([t.type({ Scope }), t.partial({ ConnectivityScope: Scope })]);
export type CapabilitiesResponse = t.TypeOf<typeof CapabilitiesResponse>;

export const AllocateNetworkRequest = t.intersection([
  NetworkRef,
  t.partial({ Options: StringMap, IPv4Data: IPAMDataList, IPv6Data: IPAMDataList }),
]);
export type AllocateNetworkRequest = t.TypeOf<typeof AllocateNetworkRequest>;
export const AllocateNetworkResponse = t.type({ Options: StringMap });
export type AllocateNetworkResponse = t.TypeOf<typeof AllocateNetworkResponse>;

export const CreateNetworkRequest = t.intersection([
  NetworkRef,
  t.partial({ Options: AnyMap, IPv4Data: IPAMDataList, IPv6Data: IPAMDataList }),
]);
export type CreateNetworkRequest = t.TypeOf<typeof CreateNetworkRequest>;

export const CreateEndpointRequest = t.intersection([
  EndpointRef,
  t.partial({ Interface: orEmpty(EndpointInterface, () => ({})), Options: AnyMap }),
]);
export type CreateEndpointRequest = t.TypeOf<typeof CreateEndpointRequest>;
export const CreateEndpointResponse = t.partial({ Interface: orEmpty(EndpointInterface, () => ({})) });
export type CreateEndpointResponse = t.TypeOf<typeof CreateEndpointResponse>;

export const EndpointOperInfoResponse = t.type({ Value: AnyMap });
export type EndpointOperInfoResponse = t.TypeOf<typeof EndpointOperInfoResponse>;

export const JoinRequest = t.intersection([EndpointRef, t.type({ SandboxKey: t.string }), t.partial({ Options: AnyMap })]);
export type JoinRequest = t.TypeOf<typeof JoinRequest>;

export const StaticRoute = t.intersection([
  t.type({ Destination: Cidr, RouteType: t.union([t.literal(0), t.literal(1)]) }),
  t.partial({ NextHop: IPOrEmpty }),
]);
export const JoinResponse = t.intersection([
  t.type({ InterfaceName: t.type({ SrcName: NonEmptyString, DstPrefix: NonEmptyString }) }),
  t.partial({
    // Docker rejects "10.99.0.1/24" here ("unable to parse Gateway"): bare IPs only.
    Gateway: IPOrEmpty,
    GatewayIPv6: IPOrEmpty,
    StaticRoutes: t.array(StaticRoute),
    DisableGatewayService: t.boolean,
  }),
]);
export type JoinResponse = t.TypeOf<typeof JoinResponse>;

export const ProgramExternalConnectivityRequest = t.intersection([EndpointRef, t.partial({ Options: AnyMap })]);
export type ProgramExternalConnectivityRequest = t.TypeOf<typeof ProgramExternalConnectivityRequest>;

export const DiscoveryRequest = t.intersection([
  t.type({ DiscoveryType: t.number }),
  t.partial({ DiscoveryData: t.unknown }),
]);
export type DiscoveryRequest = t.TypeOf<typeof DiscoveryRequest>;

/** libnetwork's driverapi.EventNotify: a table event for the driver (create=1, update=2, delete=3). */
export const EventNotifyRequest = t.intersection([
  t.type({ Type: t.union([t.literal(1), t.literal(2), t.literal(3)]), NetworkID: ID, TableName: t.string, Key: t.string }),
  t.partial({ Value: t.string }),
]);
export type EventNotifyRequest = t.TypeOf<typeof EventNotifyRequest>;

// ---------------------------------------------------------------------------------------------
// IpamDriver

export const IpamCapabilitiesResponse = t.type({ RequiresMACAddress: t.boolean, RequiresRequestReplay: t.boolean });
export type IpamCapabilitiesResponse = t.TypeOf<typeof IpamCapabilitiesResponse>;

export const AddressSpacesResponse = t.type({ LocalDefaultAddressSpace: t.string, GlobalDefaultAddressSpace: t.string });
export type AddressSpacesResponse = t.TypeOf<typeof AddressSpacesResponse>;

export const RequestPoolRequest = t.intersection([
  t.type({ AddressSpace: t.string }),
  t.partial({ Pool: CidrOrEmpty, SubPool: CidrOrEmpty, Options: StringMap, V6: t.boolean }),
]);
export type RequestPoolRequest = t.TypeOf<typeof RequestPoolRequest>;
export const RequestPoolResponse = t.intersection([t.type({ PoolID: NonEmptyString, Pool: Cidr }), t.partial({ Data: StringMap })]);
export type RequestPoolResponse = t.TypeOf<typeof RequestPoolResponse>;

export const ReleasePoolRequest = t.type({ PoolID: NonEmptyString });
export type ReleasePoolRequest = t.TypeOf<typeof ReleasePoolRequest>;

export const RequestAddressRequest = t.intersection([
  t.type({ PoolID: NonEmptyString }),
  t.partial({ Address: IPOrEmpty, Options: StringMap }),
]);
export type RequestAddressRequest = t.TypeOf<typeof RequestAddressRequest>;
/** Docker requires CIDR form here ("invalid CIDR address: 10.99.0.44" otherwise). */
export const RequestAddressResponse = t.intersection([t.type({ Address: Cidr }), t.partial({ Data: StringMap })]);
export type RequestAddressResponse = t.TypeOf<typeof RequestAddressResponse>;

export const ReleaseAddressRequest = t.type({ PoolID: NonEmptyString, Address: IPOrCidr });
export type ReleaseAddressRequest = t.TypeOf<typeof ReleaseAddressRequest>;

/** Well-known option keys, as Docker spells them. */
export const DockerOptions = {
  generic: 'com.docker.network.generic',
  enableIPv6: 'com.docker.network.enable_ipv6',
  internal: 'com.docker.network.internal',
  mtu: 'com.docker.network.driver.mtu',
  vxlanIdList: 'com.docker.network.driver.overlay.vxlanid_list',
  encrypted: 'encrypted',
  requestAddressType: 'RequestAddressType',
  gatewayType: 'com.docker.network.gateway',
  ipamSerial: 'com.docker.network.ipam.serial',
  macAddress: 'com.docker.network.endpoint.macaddress',
  exposedPorts: 'com.docker.network.endpoint.exposedports',
  portMap: 'com.docker.network.portmap',
} as const;

/**
 * Weft's own option keys, beside Docker's: Docker never sends these; Weft's engine, its Docker
 * plugin and its CLI do. Drivers and IPAMs read them by these names only.
 */
export const WeftOptions = {
  /** IPAM `RequestPool` option: the network's name, quoted in overlap errors. */
  networkName: 'weft.network.name',
  /** Docker `-o` / `--ipam-opt` option: the Weft network (name or ID) a Docker network maps to. */
  network: 'weft.network',
  /** `EndpointOperInfo` value: the Weft network's ID (beside `weft.network`, its name). */
  networkId: 'weft.network.id',
  /** Label on a Weft network the Docker plugin created: the Docker network's ID. */
  dockerNetwork: 'weft.docker.network',
  /** Driver option (`--opt weft.dataplane=`): `auto` (default), `kernel` or `userspace`. */
  dataplane: 'weft.dataplane',
} as const;

/** `NetworkDriver.Join` options Weft's own agent adds (Docker never sends these). */
export const WeftJoinOptions = {
  /** Create the interface directly inside the sandbox's namespace (Weft sandboxes), as `eth0`… */
  moveIntoSandbox: 'weft.sandbox.move',
  /** Name inside the sandbox when moved. */
  dstName: 'weft.sandbox.ifname',
  /** The sandbox's namespace is shared by many endpoints (bare endpoints): see PortSpec.sharedNetns. */
  sharedNetns: 'weft.sandbox.shared',
  /** Sandbox (container) name and aliases for DNS. */
  name: 'weft.name',
  aliases: 'weft.aliases',
  /** Service tasks: published in the endpoint record for the DNS. */
  service: 'weft.service',
  serviceVip: 'weft.service.vip',
  /** The service's IPv6 VIP on a dual-stack network. */
  serviceVip6: 'weft.service.vip6',
  endpointMode: 'weft.endpoint.mode',
  taskSlot: 'weft.task.slot',
} as const;

// ---------------------------------------------------------------------------------------------
// Decoding helpers

export interface DecodeFailure {
  readonly path: string;
  readonly message: string;
  readonly value: unknown;
}

/** JSON path of an io-ts context, skipping the synthetic keys of intersections and unions. */
export function contextPath(context: t.Context): string {
  let out = '';
  for (let i = 1; i < context.length; i++) {
    const parent = context[i - 1]!.type as { _tag?: string; name: string };
    if (parent._tag === 'IntersectionType' || parent._tag === 'UnionType') continue;
    const key = context[i]!.key;
    if (key === '') continue;
    out += /^\d+$/.test(key) && (parent._tag === 'ArrayType' || parent._tag === 'ReadonlyArrayType' || parent.name.startsWith('Array<')) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

/** Decodes `u` with `codec`; on failure returns the first (deepest-path) error in readable form. */
export function decode<A>(codec: t.Decoder<unknown, A>, u: unknown): { ok: true; value: A } | { ok: false; failure: DecodeFailure } {
  const r = codec.decode(u);
  if (!isLeft(r)) return { ok: true, value: r.right };
  const errs = r.left;
  // Prefer the most specific error (longest path), then any with a custom message.
  let best = errs[0]!;
  let bestPath = contextPath(best.context);
  for (const e of errs) {
    const p = contextPath(e.context);
    if (p.length > bestPath.length || (p.length === bestPath.length && e.message !== undefined && best.message === undefined)) {
      best = e;
      bestPath = p;
    }
  }
  const last = best.context[best.context.length - 1];
  const expected = last?.type.name ?? 'a valid value';
  const message =
    best.message ??
    (best.value === undefined ? `missing required field, expected ${expected}` : `expected ${expected}, got ${show(best.value)}`);
  return { ok: false, failure: { path: bestPath, message, value: best.value } };
}
