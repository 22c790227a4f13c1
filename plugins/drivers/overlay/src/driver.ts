/**
 * The overlay driver: Docker's `overlay`, composed through the kernel. It owns no sockets and
 * no threads. Networks and endpoints live in `ctx.store`; frames are moved by the `datapath`
 * service; remote endpoints come from the `tables` service (gossip), as table events.
 *
 * Lifecycle, as in Docker: a network exists on a host from CreateNetwork, but it is programmed
 * into the data path and joined in gossip only when the first local endpoint joins, and left when
 * the last one leaves.
 */
import * as t from 'io-ts';
import { left } from 'fp-ts/lib/Either.js';
import {
  DockerOptions,
  WeftJoinOptions,
  ENDPOINTS_TABLE,
  decodeEndpointRecord,
  definePlugin,
  encodeEndpointRecord,
  errors,
  getJson,
  putJson,
  type Context,
  type DataPath,
  type EndpointRecord,
  type PluginDefinition,
  type TableEvent,
} from '@weft/kernel';
import { parseNetwork, type NetworkSpec } from './options.ts';

export const OverlayConfig = t.intersection([
  t.type({
    /** Underlay address of this host's VTEP (`--data-path-addr`). */
    vtep: t.string,
  }),
  t.partial({
    /** This node's name; default the membership's own name. */
    node: t.string,
    vtepPort: t.number,
    /** Scope reported to Docker: `local` for a standalone dockerd (the default), `global` for swarm. */
    scope: t.union([t.literal('local'), t.literal('global')]),
  }),
]);
/** Bridge networks never leave the host: no VTEP to configure. */
export const BridgeConfig = t.partial({ node: t.string });
/** What the shared driver reads; the overlay's codec makes `vtep` required. */
export type OverlayConfig = Partial<t.TypeOf<typeof OverlayConfig>>;


interface EndpointState {
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
  endpointMode?: 'vip' | 'dnsrr';
  taskSlot?: number;
  /** Where the interface lives when it was moved into a Weft sandbox (for re-attach after a restart). */
  netns?: string;
  dstName?: string;
}

/**
 * Join, Leave and DeleteEndpoint on one network are serialised: the first join programs the
 * network and the last leave removes it, so they must not interleave. The lock holds no data.
 */
const locks = new Map<string, Promise<unknown>>();
async function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

const netKey = (id: string) => `networks/${id}`;
const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;

/** Linux interface names are at most 15 bytes; derive a unique one from the whole endpoint ID. */
export function ifnameFor(endpointId: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < endpointId.length; i++) {
    const c = endpointId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `wft${(a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')).slice(0, 12)}`;
}

/** `02:42:` + IPv4 bytes, like Docker's own drivers. */
export function macFor(cidr: string): string {
  const parts = (cidr.split('/')[0] ?? '').split('.').map(Number);
  return ['02', '42', ...parts.map((p) => p.toString(16).padStart(2, '0'))].join(':');
}

function nodeName(ctx: Context<OverlayConfig>): string {
  if (ctx.config.node !== undefined) return ctx.config.node;
  if (ctx.services.has('membership')) return ctx.services.get('membership').self().name;
  return ctx.config.vtep ?? 'local';
}

/**
 * Whether an endpoint of `network` other than `self` is joined on this host. Reads records only
 * until it finds one, so a Join or Leave on a host with 10,000 endpoints does not read them all.
 */
async function otherJoined(ctx: Context<OverlayConfig>, network: string, self: string): Promise<boolean> {
  for (const k of await ctx.store.keys(`endpoints/${network}/`)) {
    if (k === epKey(network, self)) continue;
    const e = await getJson<EndpointState>(ctx.store, k);
    if (e?.joined === true) return true;
  }
  return false;
}

async function endpointsOf(ctx: Context<OverlayConfig>, network: string): Promise<EndpointState[]> {
  const out: EndpointState[] = [];
  for (const k of await ctx.store.keys(`endpoints/${network}/`)) {
    const e = await getJson<EndpointState>(ctx.store, k);
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
    ipv4: ep.ipv4,
    ...(ep.ipv6 !== '' ? { ipv6: ep.ipv6 } : {}),
    ifname: ep.ifname,
    ...(ep.netns !== undefined ? { netns: ep.netns, dstName: ep.dstName ?? 'eth0' } : {}),
    ...(ep.name !== undefined ? { name: ep.name } : {}),
    ...(ep.aliases !== undefined ? { aliases: ep.aliases } : {}),
  };
}

function dataPathSpec(n: NetworkSpec) {
  return { id: n.id, vni: n.vni, mtu: n.mtu, encrypted: n.encrypted, internal: n.internal, gateways: n.gateways };
}

/** Programs a remote endpoint (from the endpoints table) into the data path, or removes it. */
export function applyTableEvent(e: TableEvent, self: string, datapath: DataPath): void {
  if (e.entry.table !== ENDPOINTS_TABLE || e.entry.owner === self) return;
  const rec = decodeEndpointRecord(e.entry.value);
  if (e.type === 'delete') {
    if (rec !== undefined) datapath.removePeer(e.entry.network, rec.mac);
    return;
  }
  if (rec === undefined || rec.node === self) return;
  datapath.addPeer({
    network: e.entry.network,
    mac: rec.mac,
    ipv4: rec.ipv4.split('/')[0]!,
    ...(rec.ipv6 !== undefined && rec.ipv6 !== '' ? { ipv6: rec.ipv6.split('/')[0]! } : {}),
    vtep: rec.vtep,
    ...(rec.vtepPort !== undefined ? { vtepPort: rec.vtepPort } : {}),
    node: rec.node,
    name: rec.name,
    ...(rec.aliases !== undefined ? { aliases: rec.aliases } : {}),
  });
}

/** Docker's `overlay`: multi-host, endpoints replicated through the gossip tables. */
export function overlayPlugin(name = 'overlay'): PluginDefinition<OverlayConfig> {
  return switchDriver('overlay', name);
}

/**
 * Docker's `bridge`: one host, the same userspace switch with no VXLAN (VNI 0 = local only). Its
 * endpoints' names still reach the embedded DNS, as local `table` events that are not replicated.
 */
export function bridgePlugin(name = 'bridge'): PluginDefinition<OverlayConfig> {
  return switchDriver('bridge', name);
}

/** The driver shared by `overlay` and `bridge`; they differ only in how endpoints are shared. */
export function switchDriver(kind: 'overlay' | 'bridge', name: string): PluginDefinition<OverlayConfig> {
  const overlay = kind === 'overlay';

  /** Endpoint records: replicated to the network's other hosts (overlay) or local events (bridge). */
  const peering = {
    async join(ctx: Context<OverlayConfig>, network: string): Promise<void> {
      if (!overlay) return;
      const tables = ctx.services.get('tables');
      await tables.joinNetwork(network);
      const self = nodeName(ctx);
      const datapath = ctx.services.get('datapath');
      // Program the peers already known (events cover the ones learned later).
      for (const entry of tables.entries(network, ENDPOINTS_TABLE)) applyTableEvent({ type: 'create', entry }, self, datapath);
    },
    async leave(ctx: Context<OverlayConfig>, network: string): Promise<void> {
      if (overlay) await ctx.services.get('tables').leaveNetwork(network);
    },
    publish(ctx: Context<OverlayConfig>, ep: EndpointState): void {
      const value = encodeEndpointRecord(record(ctx, ep));
      if (overlay) ctx.services.get('tables').put(ep.network, ENDPOINTS_TABLE, ep.id, value);
      else ctx.events.publish('table', localEvent('create', ctx, ep, value));
    },
    unpublish(ctx: Context<OverlayConfig>, ep: EndpointState): void {
      if (overlay) ctx.services.get('tables').delete(ep.network, ENDPOINTS_TABLE, ep.id);
      else ctx.events.publish('table', localEvent('delete', ctx, ep, encodeEndpointRecord(record(ctx, ep))));
    },
  };

  return definePlugin<OverlayConfig>({
    manifest: {
      name,
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['NetworkDriver'],
      requires: overlay ? ['datapath', 'tables'] : ['datapath'],
      optional: ['cipher', 'membership'],
      config: (overlay ? OverlayConfig : BridgeConfig) as t.Type<OverlayConfig, unknown, unknown>,
      description: overlay ? 'multi-host overlay networks: VXLAN data path, gossip tables, optional encryption' : 'single-host networks on the userspace switch (no VXLAN)',
    },
    handlers: {
      NetworkDriver: {
        GetCapabilities: (_req, ctx) => (overlay ? { Scope: ctx.config.scope ?? 'local', ConnectivityScope: 'global' } : { Scope: 'local', ConnectivityScope: 'local' }),

        CreateNetwork: async (req, ctx) => {
          if ((await ctx.store.get(netKey(req.NetworkID))) !== undefined) {
            return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`));
          }
          const overhead = ctx.services.has('cipher') ? ctx.services.get('cipher').overhead : undefined;
          // A bridge refuses encryption outright (below); it never needs a cipher to say so.
          const parsed = parseNetwork(req, overlay ? overhead : 0);
          if (!parsed.ok) return left(errors.badRequest(ctx.plugin, `Cannot create network "${req.NetworkID}": ${parsed.message}`, { path: parsed.path, value: parsed.value }));
          if (!overlay && parsed.value.encrypted) {
            return left(errors.badRequest(ctx.plugin, `Cannot create network "${req.NetworkID}": bridge networks never leave this host, so there is nothing to encrypt`, {
              path: 'Options["com.docker.network.generic"]["encrypted"]',
              hint: 'Use an overlay network (-d overlay --opt encrypted) for encrypted traffic between hosts.',
            }));
          }
          // VNI 0: a local-only network, never encapsulated; VXLAN for it is never accepted.
          const p = overlay ? parsed : { ok: true as const, value: { ...parsed.value, vni: 0 } };
          if (p.value.encrypted && ctx.services.get('datapath').encrypts !== true) {
            return left(errors.unsupported(ctx.plugin, `Cannot create encrypted network "${req.NetworkID}": the loaded data path does not encrypt frames yet, and Weft never carries an "encrypted" network in plaintext`, {
              path: 'Options["com.docker.network.generic"]["encrypted"]',
              hint: 'Create the network without --opt encrypted, or load a data path that encrypts.',
            }));
          }
          await putJson(ctx.store, netKey(req.NetworkID), p.value);
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
          if (ipv4 === '') {
            return left(errors.badRequest(ctx.plugin, 'An overlay endpoint needs an IPv4 address; use an IPAM driver that assigns one', { path: 'Interface.Address', value: ipv4 }));
          }
          const given = req.Interface?.MacAddress ?? '';
          const mac = given !== '' ? given.toLowerCase() : macFor(ipv4);
          const ep: EndpointState = { network: req.NetworkID, id: req.EndpointID, ipv4, ipv6: req.Interface?.AddressIPv6 ?? '', mac, ifname: ifnameFor(req.EndpointID), joined: false };
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

        Join: (req, ctx) => serially(`${ctx.plugin}/${req.NetworkID}`, async () => {
          const ep = await getJson<EndpointState>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          const n = await getJson<NetworkSpec>(ctx.store, netKey(req.NetworkID));
          if (n === undefined) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          const o = req.Options ?? {};
          const move = o[WeftJoinOptions.moveIntoSandbox] === true || o[WeftJoinOptions.moveIntoSandbox] === 'true';
          const dstName = typeof o[WeftJoinOptions.dstName] === 'string' ? (o[WeftJoinOptions.dstName] as string) : 'eth0';
          if (typeof o[WeftJoinOptions.name] === 'string') ep.name = o[WeftJoinOptions.name] as string;
          if (Array.isArray(o[WeftJoinOptions.aliases])) ep.aliases = (o[WeftJoinOptions.aliases] as unknown[]).filter((a): a is string => typeof a === 'string');
          if (typeof o[WeftJoinOptions.service] === 'string') ep.service = o[WeftJoinOptions.service] as string;
          if (typeof o[WeftJoinOptions.serviceVip] === 'string') ep.serviceVip = o[WeftJoinOptions.serviceVip] as string;
          if (o[WeftJoinOptions.endpointMode] === 'vip' || o[WeftJoinOptions.endpointMode] === 'dnsrr') ep.endpointMode = o[WeftJoinOptions.endpointMode] as 'vip' | 'dnsrr';
          if (typeof o[WeftJoinOptions.taskSlot] === 'number') ep.taskSlot = o[WeftJoinOptions.taskSlot] as number;
          if (move) {
            ep.netns = req.SandboxKey.startsWith('/run/netns/') ? req.SandboxKey.slice('/run/netns/'.length) : req.SandboxKey;
            ep.dstName = dstName;
          }
          const datapath = ctx.services.get('datapath');
          const first = !(await otherJoined(ctx, req.NetworkID, ep.id));
          if (first) {
            await datapath.ensureNetwork(dataPathSpec(n));
            await peering.join(ctx, req.NetworkID);
          }
          await datapath.addPort(portSpec(ep));
          ep.joined = true;
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          peering.publish(ctx, ep);
          const gw = n.gateways[0]?.split('/')[0];
          if (n.internal || gw === undefined) {
            // No default route through this network, and no docker_gwbridge either.
            return { InterfaceName: { SrcName: ep.ifname, DstPrefix: 'eth' }, DisableGatewayService: true };
          }
          return { InterfaceName: { SrcName: ep.ifname, DstPrefix: 'eth' }, Gateway: gw };
        }),

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
      for (const k of await ctx.store.keys('networks/')) {
        const n = await getJson<NetworkSpec>(ctx.store, k);
        if (n === undefined) continue;
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
      table: (e: TableEvent, ctx) => {
        if (!overlay || !ctx.services.has('datapath')) return;
        applyTableEvent(e, nodeName(ctx as Context<OverlayConfig>), ctx.services.get('datapath'));
      },
    },
  });

  function record(ctx: Context<OverlayConfig>, ep: EndpointState): EndpointRecord {
    return {
      name: ep.name ?? '',
      ipv4: ep.ipv4,
      mac: ep.mac,
      vtep: ctx.config.vtep ?? '',
      node: nodeName(ctx),
      ...(ep.aliases !== undefined ? { aliases: ep.aliases } : {}),
      ...(ep.service !== undefined ? { service: ep.service } : {}),
      ...(ep.serviceVip !== undefined ? { serviceVip: ep.serviceVip } : {}),
      ...(ep.endpointMode !== undefined ? { endpointMode: ep.endpointMode } : {}),
      ...(ep.taskSlot !== undefined ? { taskSlot: ep.taskSlot } : {}),
      ...(ep.ipv6 !== '' ? { ipv6: ep.ipv6 } : {}),
      ...(ctx.config.vtepPort !== undefined ? { vtepPort: ctx.config.vtepPort } : {}),
    };
  }

  function localEvent(type: 'create' | 'delete', ctx: Context<OverlayConfig>, ep: EndpointState, value: Uint8Array): TableEvent {
    return { type, entry: { network: ep.network, table: ENDPOINTS_TABLE, key: ep.id, value, owner: nodeName(ctx), lamport: ctx.now(), deleted: type === 'delete', stale: false } };
  }

  async function leave(ctx: Context<OverlayConfig>, ep: EndpointState): Promise<void> {
    const datapath = ctx.services.get('datapath');
    peering.unpublish(ctx, ep);
    await datapath.removePort(ep.network, ep.id);
    ep.joined = false;
    await putJson(ctx.store, epKey(ep.network, ep.id), ep);
    const still = await otherJoined(ctx, ep.network, ep.id);
    if (!still) {
      await peering.leave(ctx, ep.network);
      await datapath.removeNetwork(ep.network);
    }
  }
}

void DockerOptions;
