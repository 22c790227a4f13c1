/**
 * example-static: a third-party NetworkDriver, written against @weft/kernel only.
 *
 * It records networks and endpoints in the store the kernel hands it (so it is stateless between
 * calls, and survives restarts), derives Docker-style MACs from IPv4 addresses, and answers Join
 * with an interface name derived from the endpoint ID. When a `datapath` service is loaded (e.g.
 * @weft/vxlan) it moves packets: Join plugs the endpoint into the data path as a port, and the
 * network's static peers (`example.peers`, endpoints on other hosts) are programmed into it, so
 * sandboxes on two hosts reach each other with no control plane at all. Without a data path it
 * only keeps the books. Walkthrough: docs/plugin-authoring.md.
 */
import * as t from 'io-ts';
import { formatMac, macFromIPv4 as dockerMac, scanIPv4 } from '@weft/net';
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import { WeftJoinOptions, definePlugin, errors, getJson, putJson, type Context, type DataPathNetwork, type PeerSpec, type WeftError } from '@weft/kernel';

export const Config = t.partial({
  /** Prefix of interface names handed to Docker (at most 5 characters). */
  ifPrefix: t.string,
});
export type Config = t.TypeOf<typeof Config>;

interface NetworkRecord {
  readonly id: string;
  readonly gateways: string[];
  readonly options: Record<string, unknown>;
  /** VXLAN network identifier; 0 keeps the network on this host. Absent in records of older versions. */
  readonly vni?: number;
  /** Endpoints on other hosts, programmed into the data path. */
  readonly peers?: readonly StaticPeer[];
}
interface StaticPeer {
  readonly ipv4: string;
  readonly mac: string;
  readonly vtep: string;
}
interface EndpointRecord {
  readonly network: string;
  readonly id: string;
  readonly address: string;
  readonly mac: string;
  joined: boolean;
}

const netKey = (id: string) => `networks/${id}`;
const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;

/** `02:42:` + the four IPv4 bytes, as Docker does for its own drivers. */
export function macFromIPv4(cidr: string): string {
  const ip = scanIPv4(cidr.split('/')[0] ?? '');
  return ip < 0 ? '' : formatMac(dockerMac(ip));
}

/** A stable short token for an ID (FNV-1a, two lanes): interface names must be unique per endpoint. */
export function shortId(id: string, hexChars: number): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x85ebca6b) >>> 0;
  }
  return (a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')).slice(0, hexChars);
}

async function network(ctx: Context<Config>, id: string) {
  return getJson<NetworkRecord>(ctx.store, netKey(id));
}

/** Network options (`docker network create -o example.vni=4300 -o example.peers=IP@VTEP,...`). */
export const NetworkOptions = {
  /** VXLAN network identifier, 1-16777215; absent or 0: the network stays on this host. */
  vni: 'example.vni',
  /** Endpoints on other hosts: `IP@VTEP` pairs, comma-separated; their MACs are derived from IP as ours are. */
  peers: 'example.peers',
} as const;

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Reads `example.vni` and `example.peers` from Docker's generic options, or says what is wrong. */
export function parseNetworkOptions(plugin: string, generic: Record<string, unknown>): Either<WeftError, { vni: number; peers: StaticPeer[] }> {
  const at = (k: string) => `Options.com.docker.network.generic.${k}`;
  const rawVni = generic[NetworkOptions.vni] ?? 0;
  const vni = typeof rawVni === 'string' && /^\d+$/.test(rawVni) ? Number(rawVni) : rawVni;
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
    return left(errors.badRequest(plugin, `${NetworkOptions.vni} ${JSON.stringify(rawVni)} is not a VNI: use 1-16777215, or 0 for a network on this host only`, { path: at(NetworkOptions.vni), value: rawVni }));
  }
  const rawPeers = generic[NetworkOptions.peers] ?? '';
  if (typeof rawPeers !== 'string') return left(errors.badRequest(plugin, `${NetworkOptions.peers} must be a string of IP@VTEP pairs`, { path: at(NetworkOptions.peers), value: rawPeers }));
  const peers: StaticPeer[] = [];
  for (const item of rawPeers.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const [ip, vtep, more] = item.split('@');
    if (ip === undefined || vtep === undefined || more !== undefined || !IPV4.test(ip) || !IPV4.test(vtep)) {
      return left(errors.badRequest(plugin, `Static peer ${JSON.stringify(item)} is not IP@VTEP (e.g. 10.9.0.3@198.18.0.2)`, { path: at(NetworkOptions.peers), value: rawPeers }));
    }
    peers.push({ ipv4: ip, mac: macFromIPv4(ip), vtep });
  }
  if (peers.length > 0 && vni === 0) {
    return left(errors.badRequest(plugin, `Static peers need a VNI: set ${NetworkOptions.vni} (1-16777215) as well`, { path: at(NetworkOptions.vni), value: rawVni }));
  }
  return right({ vni, peers });
}

/** Join options Weft's own engine sends for its sandboxes (Docker sends none). */
const JoinOptions = WeftJoinOptions;

/** The data path's view of a network: idempotent, so every Join can (re)program it after a restart. */
function dataPathNetwork(net: NetworkRecord): DataPathNetwork {
  const vni = net.vni ?? 0;
  return { id: net.id, vni, mtu: vni === 0 ? 1500 : 1450, encrypted: false, internal: false, gateways: net.gateways };
}

function peerSpec(network: string, p: StaticPeer): PeerSpec {
  return { network, mac: p.mac, ipv4: p.ipv4, vtep: p.vtep };
}

export function exampleStatic(name = 'example-static') {
  return definePlugin<Config>({
    manifest: {
      name, version: '0.1.0', kernel: '^0.1.0', provides: ['NetworkDriver'], config: Config,
      // With a data path, endpoints become ports and static peers are programmed; without one, books only.
      optional: ['datapath'],
      description: 'static networks: endpoints plugged into the datapath service, peers from network options',
    },
    handlers: {
      NetworkDriver: {
        GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
        CreateNetwork: async (req, ctx) => {
          if ((await network(ctx, req.NetworkID)) !== undefined) return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`));
          const gateways = (req.IPv4Data ?? []).map((d) => d.Gateway ?? '').filter((g) => g !== '');
          const generic = req.Options?.['com.docker.network.generic'];
          const parsed = parseNetworkOptions(ctx.plugin, typeof generic === 'object' && generic !== null ? (generic as Record<string, unknown>) : {});
          if (parsed._tag === 'Left') return parsed;
          const { vni, peers } = parsed.right;
          await putJson(ctx.store, netKey(req.NetworkID), { id: req.NetworkID, gateways, options: req.Options ?? {}, vni, peers } satisfies NetworkRecord);
          return {};
        },
        DeleteNetwork: async (req, ctx) => {
          if (!(await ctx.store.delete(netKey(req.NetworkID)))) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          if (ctx.services.has('datapath')) await ctx.services.get('datapath').removeNetwork(req.NetworkID);
          return {};
        },
        CreateEndpoint: async (req, ctx) => {
          if ((await network(ctx, req.NetworkID)) === undefined) {
            return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`, { hint: 'Create the network first.' }));
          }
          const address = req.Interface?.Address ?? '';
          if (address === '') return left(errors.badRequest(ctx.plugin, 'An endpoint needs an IPv4 address (Interface.Address)', { path: 'Interface.Address', value: address }));
          const given = req.Interface?.MacAddress ?? '';
          const mac = given !== '' ? given : macFromIPv4(address);
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), { network: req.NetworkID, id: req.EndpointID, address, mac, joined: false } satisfies EndpointRecord);
          // Docker accepts a MAC only when it sent none; never echo what it sent.
          return given === '' ? { Interface: { MacAddress: mac } } : {};
        },
        DeleteEndpoint: async (req, ctx) => {
          if (!(await ctx.store.delete(epKey(req.NetworkID, req.EndpointID)))) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          return {};
        },
        EndpointOperInfo: async (req, ctx) => {
          const ep = await getJson<EndpointRecord>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          return { Value: { address: ep.address, mac: ep.mac, joined: ep.joined } };
        },
        Join: async (req, ctx) => {
          const ep = await getJson<EndpointRecord>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          const net = await network(ctx, req.NetworkID);
          const prefix = (ctx.config.ifPrefix ?? 'ex').slice(0, 5);
          const ifname = `${prefix}${shortId(req.EndpointID, 15 - prefix.length)}`;
          if (net !== undefined && ctx.services.has('datapath')) {
            // Plug the endpoint in. A Weft sandbox gets its interface created inside it, addressed;
            // for Docker the TAP stays here under `ifname` and Docker moves it into the container.
            const dp = ctx.services.get('datapath');
            await dp.ensureNetwork(dataPathNetwork(net));
            for (const p of net.peers ?? []) dp.addPeer(peerSpec(net.id, p));
            const o = req.Options ?? {};
            const move = o[JoinOptions.moveIntoSandbox] === true || o[JoinOptions.moveIntoSandbox] === 'true';
            const dstName = typeof o[JoinOptions.dstName] === 'string' ? (o[JoinOptions.dstName] as string) : 'eth0';
            const netns = req.SandboxKey.startsWith('/run/netns/') ? req.SandboxKey.slice('/run/netns/'.length) : req.SandboxKey;
            await dp.addPort({ network: net.id, endpointId: ep.id, mac: ep.mac, ipv4: ep.address, ifname, ...(move ? { netns, dstName } : {}) });
          }
          ep.joined = true;
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          const gw = net?.gateways[0]?.split('/')[0];
          return { InterfaceName: { SrcName: ifname, DstPrefix: 'eth' }, ...(gw !== undefined ? { Gateway: gw } : {}) };
        },
        Leave: async (req, ctx) => {
          const ep = await getJson<EndpointRecord>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          if (ctx.services.has('datapath')) await ctx.services.get('datapath').removePort(req.NetworkID, req.EndpointID);
          ep.joined = false;
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          return {};
        },
      },
    },
  });
}
