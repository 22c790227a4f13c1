/**
 * example-static: a third-party NetworkDriver, written against @weft/kernel only.
 *
 * It records networks and endpoints in the store the kernel hands it (so it is stateless between
 * calls, and survives restarts), derives Docker-style MACs from IPv4 addresses, and answers Join
 * with an interface name derived from the endpoint ID. It moves no packets: pair it with a data
 * path, or use it as the starting point for your own driver (docs/plugin-authoring.md).
 */
import * as t from 'io-ts';
import { left } from 'fp-ts/lib/Either.js';
import { definePlugin, errors, getJson, putJson, type Context } from '@weft/kernel';

export const Config = t.partial({
  /** Prefix of interface names handed to Docker (at most 5 characters). */
  ifPrefix: t.string,
});
export type Config = t.TypeOf<typeof Config>;

interface NetworkRecord {
  readonly id: string;
  readonly gateways: string[];
  readonly options: Record<string, unknown>;
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
  const ip = cidr.split('/')[0] ?? '';
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4) return '';
  return ['02', '42', ...parts.map((p) => p.toString(16).padStart(2, '0'))].join(':');
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

export function exampleStatic(name = 'example-static') {
  return definePlugin<Config>({
    manifest: { name, version: '0.1.0', kernel: '^0.1.0', provides: ['NetworkDriver'], config: Config, description: 'records networks and endpoints; no data path' },
    handlers: {
      NetworkDriver: {
        GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
        CreateNetwork: async (req, ctx) => {
          if ((await network(ctx, req.NetworkID)) !== undefined) return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`));
          const gateways = (req.IPv4Data ?? []).map((d) => d.Gateway ?? '').filter((g) => g !== '');
          await putJson(ctx.store, netKey(req.NetworkID), { id: req.NetworkID, gateways, options: req.Options ?? {} } satisfies NetworkRecord);
          return {};
        },
        DeleteNetwork: async (req, ctx) => {
          if (!(await ctx.store.delete(netKey(req.NetworkID)))) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
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
          ep.joined = true;
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          const prefix = (ctx.config.ifPrefix ?? 'ex').slice(0, 5);
          const gw = net?.gateways[0]?.split('/')[0];
          return { InterfaceName: { SrcName: `${prefix}${shortId(req.EndpointID, 15 - prefix.length)}`, DstPrefix: 'eth' }, ...(gw !== undefined ? { Gateway: gw } : {}) };
        },
        Leave: async (req, ctx) => {
          const ep = await getJson<EndpointRecord>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found in network "${req.NetworkID}"`));
          ep.joined = false;
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), ep);
          return {};
        },
      },
    },
  });
}
