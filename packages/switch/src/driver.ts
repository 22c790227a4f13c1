/**
 * The network driver core shared by Weft's `overlay` and `bridge` drivers (one userspace switch,
 * two ways to share endpoints), composed through the kernel. It owns no sockets and no threads.
 * Networks and endpoints live in `ctx.store`; frames are moved by the `datapath` service; each
 * driver's `EndpointSharing` publishes endpoint records.
 *
 * Lifecycle, as in Docker: a network exists on a host from CreateNetwork, but it is programmed
 * into the data path (and the driver's sharing joined) only when the first local endpoint joins,
 * and left when the last one leaves.
 */
import type * as t from 'io-ts';
import { formatMac, interfaceName, ipFamily, macFromIPv4, parseIP, scanIPv4 } from '@weft/net';
import { isLeft, left, type Either } from 'fp-ts/lib/Either.js';
import {
  listJson,
  createKeyedSerial,
  WeftJoinOptions,
  WeftOptions,
  encodeEndpointRecord,
  definePlugin,
  errors,
  getJson,
  putJson,
  type Context,
  type CreateNetworkRequest,
  type DataPlaneChoice,
  type EndpointRecord,
  type PluginDefinition,
  type TableEvent,
  type WeftError,
} from '@weft/kernel';
import { parseNetwork, type NetworkSpec } from './options.ts';

/** What the shared driver reads from its configuration (each driver's codec says what is required). */
export interface SwitchConfig {
  /** Underlay address of this host's VTEP (`--data-path-addr`); the overlay requires it. */
  readonly vtep?: string;
  /** This node's name; default the membership's own name. */
  readonly node?: string;
  readonly vtepPort?: number;
  /** Scope reported to Docker by the overlay: `local` for a standalone dockerd, `global` for swarm. */
  readonly scope?: 'local' | 'global';
}

/** Join options Weft's own agent adds: the kernel's `WeftJoinOptions` (re-exported for existing importers). */
export const JoinOptions = WeftJoinOptions;

export interface EndpointState {
  readonly network: string;
  readonly id: string;
  readonly ipv4: string; // CIDR
  readonly ipv6: string; // CIDR or ''
  readonly mac: string;
  readonly ifname: string;
  joined: boolean;
  name?: string;
  aliases?: string[];
  service?: string;
  serviceVip?: string;
  serviceVip6?: string;
  endpointMode?: 'vip' | 'dnsrr';
  taskSlot?: number;
  /** Where the interface lives when it was moved into a Weft sandbox (for re-attach after a restart). */
  netns?: string;
  dstName?: string;
  /** The namespace is shared by many endpoints (bare endpoints): PortSpec.sharedNetns. */
  sharedNetns?: boolean;
}

/**
 * Join, Leave and DeleteEndpoint on one network are serialised: the first join programs the
 * network and the last leave removes it, so they must not interleave. The lock holds no data.
 */
const serially = createKeyedSerial();

const netKey = (id: string) => `networks/${id}`;
const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;

/** The endpoint's TAP: `wft` + a hash of the whole endpoint ID (@weft/net's interfaceName). */
export function ifnameFor(endpointId: string): string {
  return interfaceName('wft', endpointId);
}

/** `02:42:` + IPv4 bytes, like Docker's own drivers. */
export function macFor(cidr: string): string {
  return formatMac(macFromIPv4(scanIPv4(cidr.split('/')[0] ?? '')));
}

/** An IPv6-only endpoint's MAC: 02:42 and the address's last 32 bits, as Docker derives one from IPv4. */
export function macFor6(cidr: string): string {
  const r = parseIP(cidr.split('/')[0] ?? '');
  const low = r.ok && r.value.family === 6 ? Number(r.value.value & 0xffffffffn) : 0;
  return formatMac(macFromIPv4(low));
}

export function nodeName(ctx: Context<SwitchConfig>): string {
  if (ctx.config.node !== undefined) return ctx.config.node;
  if (ctx.services.has('membership')) return ctx.services.get('membership').self().name;
  return ctx.config.vtep ?? 'local';
}

/**
 * The joined local endpoints of each network, per plugin instance (keyed by its store): read from
 * the store once per network, then kept in step by Join and Leave (which are serialised per
 * network), so neither lists 10,000 endpoint records on a busy host.
 */
const joinedIds = new WeakMap<object, Map<string, Set<string>>>();

async function joinedSet(ctx: Context<SwitchConfig>, network: string): Promise<Set<string>> {
  let byNet = joinedIds.get(ctx.store);
  if (byNet === undefined) joinedIds.set(ctx.store, (byNet = new Map()));
  let set = byNet.get(network);
  if (set === undefined) {
    set = new Set((await endpointsOf(ctx, network)).filter((e) => e.joined).map((e) => e.id));
    byNet.set(network, set);
  }
  return set;
}

/** Whether an endpoint of `network` other than `self` is joined on this host. */
async function otherJoined(ctx: Context<SwitchConfig>, network: string, self: string): Promise<boolean> {
  const set = await joinedSet(ctx, network);
  return set.size > (set.has(self) ? 1 : 0);
}

async function endpointsOf(ctx: Context<SwitchConfig>, network: string): Promise<EndpointState[]> {
  const out: EndpointState[] = [];
  for (const [, e] of await listJson<EndpointState>(ctx.store, `endpoints/${network}/`)) {
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** The data-path port of an endpoint; iproute2 takes namespace names (Weft sandboxes live under /run/netns). */
function portSpec(ep: EndpointState) {
  return {
    network: ep.network,
    endpointId: ep.id,
    mac: ep.mac,
    // An IPv6-only endpoint has no IPv4 address ('' in its state): the port gets none.
    ...(ep.ipv4 !== '' ? { ipv4: ep.ipv4 } : {}),
    ...(ep.ipv6 !== '' ? { ipv6: ep.ipv6 } : {}),
    ifname: ep.ifname,
    ...(ep.netns !== undefined ? { netns: ep.netns, dstName: ep.dstName ?? 'eth0', ...(ep.sharedNetns === true ? { sharedNetns: true } : {}) } : {}),
    ...(ep.name !== undefined ? { name: ep.name } : {}),
    ...(ep.aliases !== undefined ? { aliases: ep.aliases } : {}),
  };
}

function dataPathSpec(n: NetworkSpec) {
  // Older records hold the option only in `generic` (it was validated when the network was made).
  const dataplane = n.dataplane ?? (n.generic[WeftOptions.dataplane] as DataPlaneChoice | undefined);
  return { id: n.id, vni: n.vni, mtu: n.mtu, encrypted: n.encrypted, internal: n.internal, gateways: n.gateways, ...(dataplane !== undefined && dataplane !== ('' as string) ? { dataplane } : {}) };
}

/**
 * What one switch driver adds to the shared core: its manifest bits, what Docker is told, how a
 * parsed network is adjusted or refused, and how endpoint records are shared with whoever needs
 * them (the overlay replicates them through the gossip tables; the bridge publishes local events).
 */
export interface SwitchDriverSpec {
  readonly name: string;
  readonly requires: readonly string[];
  readonly config: t.Type<SwitchConfig, unknown, unknown>;
  readonly description: string;
  readonly capabilities: (ctx: Context<SwitchConfig>) => { Scope: 'local' | 'global'; ConnectivityScope: 'local' | 'global' };
  /** The cipher envelope subtracted from the MTU of encrypted networks (`parseNetwork`). */
  readonly cipherOverhead: (ctx: Context<SwitchConfig>) => number | undefined;
  /** Adjusts a parsed network (e.g. VNI 0) or refuses it with a message. */
  readonly network: (ctx: Context<SwitchConfig>, req: CreateNetworkRequest, spec: NetworkSpec) => Either<WeftError, NetworkSpec>;
  readonly sharing: EndpointSharing;
  /** Table events (the overlay programs remote endpoints from them). */
  readonly onTable?: (e: TableEvent, ctx: Context<SwitchConfig>) => void;
}

/** How a driver shares its endpoint records; `record` is the encoded kernel `EndpointRecord`. */
export interface EndpointSharing {
  /** The first local endpoint of `network` joined (or the driver restarted with joined ones). */
  join(ctx: Context<SwitchConfig>, network: string): Promise<void>;
  /** The last local endpoint of `network` left. */
  leave(ctx: Context<SwitchConfig>, network: string): Promise<void>;
  publish(ctx: Context<SwitchConfig>, ep: EndpointState, record: Uint8Array): void;
  unpublish(ctx: Context<SwitchConfig>, ep: EndpointState, record: Uint8Array): void;
}

/** A Docker network driver on the userspace switch; `spec` says what kind. */
export function switchDriver(spec: SwitchDriverSpec): PluginDefinition<SwitchConfig> {
  const sharing = spec.sharing;
  const peering = {
    join: (ctx: Context<SwitchConfig>, network: string) => sharing.join(ctx, network),
    leave: (ctx: Context<SwitchConfig>, network: string) => sharing.leave(ctx, network),
    publish: (ctx: Context<SwitchConfig>, ep: EndpointState) => sharing.publish(ctx, ep, encodeEndpointRecord(record(ctx, ep))),
    unpublish: (ctx: Context<SwitchConfig>, ep: EndpointState) => sharing.unpublish(ctx, ep, encodeEndpointRecord(record(ctx, ep))),
  };

  return definePlugin<SwitchConfig>({
    manifest: {
      name: spec.name,
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['NetworkDriver'],
      requires: spec.requires,
      optional: ['cipher', 'membership'],
      config: spec.config,
      description: spec.description,
    },
    handlers: {
      NetworkDriver: {
        GetCapabilities: (_req, ctx) => spec.capabilities(ctx),

        CreateNetwork: async (req, ctx) => {
          if ((await ctx.store.get(netKey(req.NetworkID))) !== undefined) {
            return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`));
          }
          const parsed = parseNetwork(req, spec.cipherOverhead(ctx), ipFamily(ctx.config.vtep ?? ''));
          if (!parsed.ok) return left(errors.badRequest(ctx.plugin, `Cannot create network "${req.NetworkID}": ${parsed.message}`, { path: parsed.path, value: parsed.value }));
          const p = spec.network(ctx, req, parsed.value);
          if (isLeft(p)) return p;
          if (p.right.encrypted && ctx.services.get('datapath').encrypts !== true) {
            return left(errors.unsupported(ctx.plugin, `Cannot create encrypted network "${req.NetworkID}": the loaded data path does not encrypt frames yet, and Weft never carries an "encrypted" network in plaintext`, {
              path: 'Options["com.docker.network.generic"]["encrypted"]',
              hint: 'Create the network without --opt encrypted, or load a data path that encrypts.',
            }));
          }
          await putJson(ctx.store, netKey(req.NetworkID), p.right);
          return {};
        },

        DeleteNetwork: async (req, ctx) => {
          const n = await getJson<NetworkSpec>(ctx.store, netKey(req.NetworkID));
          if (n === undefined) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          const eps = await endpointsOf(ctx, req.NetworkID);
          if (eps.length > 0) {
            return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" has ${eps.length} active endpoint(s) (${eps.map((e) => e.name ?? e.id.slice(0, 12)).join(', ')})`, { hint: 'Disconnect them first.' }));
          }
          await ctx.services.get('datapath').removeNetwork(req.NetworkID);
          await ctx.store.delete(netKey(req.NetworkID));
          return {};
        },

        CreateEndpoint: async (req, ctx) => {
          const n = await getJson<NetworkSpec>(ctx.store, netKey(req.NetworkID));
          if (n === undefined) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`, { hint: 'Create the network on this host first.' }));
          if ((await ctx.store.get(epKey(req.NetworkID, req.EndpointID))) !== undefined) {
            return left(errors.conflict(ctx.plugin, `Endpoint "${req.EndpointID}" already exists in network "${req.NetworkID}"`));
          }
          const ipv4 = req.Interface?.Address ?? '';
          const ipv6 = req.Interface?.AddressIPv6 ?? '';
          if (ipv4 === '' && ipv6 === '') {
            return left(errors.badRequest(ctx.plugin, 'An endpoint needs an IPv4 or IPv6 address; use an IPAM driver that assigns one', { path: 'Interface.Address', value: ipv4 }));
          }
          const given = req.Interface?.MacAddress ?? '';
          const mac = given !== '' ? given.toLowerCase() : ipv4 !== '' ? macFor(ipv4) : macFor6(ipv6);
          const ep: EndpointState = { network: req.NetworkID, id: req.EndpointID, ipv4, ipv6, mac, ifname: ifnameFor(req.EndpointID), joined: false };
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          // Docker accepts a MAC from the driver only when it sent none.
          return given === '' ? { Interface: { MacAddress: mac } } : {};
        },

        DeleteEndpoint: (req, ctx) => serially(`${ctx.plugin}/${req.NetworkID}`, async () => {
          const ep = await getJson<EndpointState>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          if (ep.joined) await leave(ctx, ep);
          await ctx.store.delete(epKey(req.NetworkID, req.EndpointID));
          return {};
        }),

        EndpointOperInfo: async (req, ctx) => {
          const ep = await getJson<EndpointState>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          const n = await getJson<NetworkSpec>(ctx.store, netKey(req.NetworkID));
          return { Value: { ifname: ep.ifname, mac: ep.mac, ipv4: ep.ipv4, ipv6: ep.ipv6, joined: ep.joined, vni: n?.vni ?? 0, mtu: n?.mtu ?? 0, vtep: ctx.config.vtep ?? '' } };
        },

        Join: async (req, ctx) => {
          // Serialised per network up to the record's write being issued; its flush is waited for
          // outside, so joins of one network share the store's flushes.
          const joined = await serially(`${ctx.plugin}/${req.NetworkID}`, async () => {
            const ep = await getJson<EndpointState>(ctx.store, epKey(req.NetworkID, req.EndpointID));
            if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
            const n = await getJson<NetworkSpec>(ctx.store, netKey(req.NetworkID));
            if (n === undefined) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
            const o = req.Options ?? {};
            const move = o[JoinOptions.moveIntoSandbox] === true || o[JoinOptions.moveIntoSandbox] === 'true';
            const dstName = typeof o[JoinOptions.dstName] === 'string' ? (o[JoinOptions.dstName] as string) : 'eth0';
            if (typeof o[JoinOptions.name] === 'string') ep.name = o[JoinOptions.name] as string;
            if (Array.isArray(o[JoinOptions.aliases])) ep.aliases = (o[JoinOptions.aliases] as unknown[]).filter((a): a is string => typeof a === 'string');
            if (typeof o[JoinOptions.service] === 'string') ep.service = o[JoinOptions.service] as string;
            if (typeof o[JoinOptions.serviceVip] === 'string') ep.serviceVip = o[JoinOptions.serviceVip] as string;
            if (typeof o[JoinOptions.serviceVip6] === 'string') ep.serviceVip6 = o[JoinOptions.serviceVip6] as string;
            if (o[JoinOptions.endpointMode] === 'vip' || o[JoinOptions.endpointMode] === 'dnsrr') ep.endpointMode = o[JoinOptions.endpointMode] as 'vip' | 'dnsrr';
            if (typeof o[JoinOptions.taskSlot] === 'number') ep.taskSlot = o[JoinOptions.taskSlot] as number;
            if (move) {
              ep.netns = req.SandboxKey.startsWith('/run/netns/') ? req.SandboxKey.slice('/run/netns/'.length) : req.SandboxKey;
              ep.dstName = dstName;
              if (o[JoinOptions.sharedNetns] === true || o[JoinOptions.sharedNetns] === 'true') ep.sharedNetns = true;
            }
            const datapath = ctx.services.get('datapath');
            const first = !(await otherJoined(ctx, req.NetworkID, ep.id));
            if (first) {
              await datapath.ensureNetwork(dataPathSpec(n));
              await peering.join(ctx, req.NetworkID);
            }
            await datapath.addPort(portSpec(ep));
            ep.joined = true;
            (await joinedSet(ctx, req.NetworkID)).add(ep.id);
            const durable = putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
            return { ep, n, durable };
          });
          if ('_tag' in joined) return joined;
          const { ep, n } = joined;
          await joined.durable;
          peering.publish(ctx, ep);
          const gw = n.gateways.find((g) => !g.includes(':'))?.split('/')[0];
          const gw6 = n.gateways.find((g) => g.includes(':'))?.split('/')[0];
          if (n.internal || (gw === undefined && gw6 === undefined)) {
            // No default route through this network, and no docker_gwbridge either.
            return { InterfaceName: { SrcName: ep.ifname, DstPrefix: 'eth' }, DisableGatewayService: true };
          }
          return { InterfaceName: { SrcName: ep.ifname, DstPrefix: 'eth' }, ...(gw !== undefined ? { Gateway: gw } : {}), ...(gw6 !== undefined && ep.ipv6 !== '' ? { GatewayIPv6: gw6 } : {}) };
        },

        Leave: (req, ctx) => serially(`${ctx.plugin}/${req.NetworkID}`, async () => {
          const ep = await getJson<EndpointState>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          if (ep.joined) await leave(ctx, ep);
          return {};
        }),

        ProgramExternalConnectivity: () => ({}),
        RevokeExternalConnectivity: () => ({}),
        DiscoverNew: () => ({}),
        DiscoverDelete: () => ({}),
      },
    },
    /**
     * After a restart (even kill -9) the data path is empty but the sandboxes still hold their
     * persistent interfaces: re-program every joined endpoint from the store, re-join gossip and
     * re-publish, so traffic resumes without the sandbox doing anything.
     */
    start: async (ctx) => {
      const datapath = ctx.services.get('datapath');
      for (const [, n] of await listJson<NetworkSpec>(ctx.store, 'networks/')) {
        const joined = (await endpointsOf(ctx, n.id)).filter((e) => e.joined);
        if (joined.length === 0) continue;
        await datapath.ensureNetwork(dataPathSpec(n));
        await peering.join(ctx, n.id);
        for (const ep of joined) {
          try {
            await datapath.addPort(portSpec(ep));
            peering.publish(ctx, ep);
          } catch (e) {
            ctx.log.error('could not re-attach endpoint after restart', { network: n.id, endpoint: ep.id, error: String(e) });
          }
        }
        ctx.log.info('re-attached network after restart', { network: n.id, endpoints: joined.length });
      }
    },
    events: {
      table: (e: TableEvent, ctx) => spec.onTable?.(e, ctx as Context<SwitchConfig>),
    },
  });

  function record(ctx: Context<SwitchConfig>, ep: EndpointState): EndpointRecord {
    // The path this host carries the network on, and the port its VTEP for that path listens on:
    // peers program both (a host may run the kernel path and the userspace switch side by side).
    const dp = ctx.services.get('datapath');
    const at = dp.placement?.(ep.network) ?? (dp.dataplane !== undefined ? { dataplane: dp.dataplane, vtepPort: dp.vtepPort ?? ctx.config.vtepPort } : undefined);
    const vtepPort = at?.vtepPort ?? ctx.config.vtepPort;
    return {
      name: ep.name ?? '',
      ipv4: ep.ipv4,
      mac: ep.mac,
      vtep: ctx.config.vtep ?? '',
      node: nodeName(ctx),
      ...(ep.aliases !== undefined ? { aliases: ep.aliases } : {}),
      ...(ep.service !== undefined ? { service: ep.service } : {}),
      ...(ep.serviceVip !== undefined ? { serviceVip: ep.serviceVip } : {}),
      ...(ep.serviceVip6 !== undefined ? { serviceVip6: ep.serviceVip6 } : {}),
      ...(ep.endpointMode !== undefined ? { endpointMode: ep.endpointMode } : {}),
      ...(ep.taskSlot !== undefined ? { taskSlot: ep.taskSlot } : {}),
      ...(ep.ipv6 !== '' ? { ipv6: ep.ipv6 } : {}),
      ...(vtepPort !== undefined ? { vtepPort } : {}),
      ...(at !== undefined ? { dataplane: at.dataplane } : {}),
    };
  }

  async function leave(ctx: Context<SwitchConfig>, ep: EndpointState): Promise<void> {
    const datapath = ctx.services.get('datapath');
    peering.unpublish(ctx, ep);
    await datapath.removePort(ep.network, ep.id);
    ep.joined = false;
    await putJson(ctx.store, epKey(ep.network, ep.id), ep);
    (await joinedSet(ctx, ep.network)).delete(ep.id);
    const still = await otherJoined(ctx, ep.network, ep.id);
    if (!still) {
      await peering.leave(ctx, ep.network);
      await datapath.removeNetwork(ep.network);
    }
  }
}

