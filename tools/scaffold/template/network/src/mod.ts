/** template-network: a Weft NetworkDriver. State lives in ctx.store; handlers keep none. */
import { left } from 'fp-ts/lib/Either.js';
import { definePlugin, errors, getJson, putJson } from '@weft/kernel';

interface Endpoint {
  address: string;
  joined: boolean;
}

const netKey = (n: string) => `networks/${n}`;
const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;

/** Interface names must be unique per endpoint and at most 15 characters: a prefix and a hash. */
function ifname(plugin: string, endpointId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < endpointId.length; i++) h = Math.imul(h ^ endpointId.charCodeAt(i), 0x01000193) >>> 0;
  return `${plugin.replace(/[^a-z0-9]/g, '').slice(0, 4)}${h.toString(16).padStart(8, '0')}`;
}

export function templateNetwork(pluginName = 'template-network') {
  return definePlugin({
    manifest: { name: pluginName, version: '0.1.0', kernel: '^0.1.0', provides: ['NetworkDriver'] },
    handlers: {
      NetworkDriver: {
        GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
        CreateNetwork: async (req, ctx) => {
          if ((await ctx.store.get(netKey(req.NetworkID))) !== undefined) return left(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`));
          await putJson(ctx.store, netKey(req.NetworkID), { gateway: req.IPv4Data?.[0]?.Gateway ?? '' });
          return {};
        },
        DeleteNetwork: async (req, ctx) => {
          if (!(await ctx.store.delete(netKey(req.NetworkID)))) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          return {};
        },
        CreateEndpoint: async (req, ctx) => {
          if ((await ctx.store.get(netKey(req.NetworkID))) === undefined) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), { address: req.Interface?.Address ?? '', joined: false } satisfies Endpoint);
          return {};
        },
        DeleteEndpoint: async (req, ctx) => {
          if (!(await ctx.store.delete(epKey(req.NetworkID, req.EndpointID)))) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found`));
          return {};
        },
        EndpointOperInfo: async (req, ctx) => {
          const ep = await getJson<Endpoint>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found`));
          return { Value: { address: ep.address, joined: ep.joined } };
        },
        Join: async (req, ctx) => {
          const ep = await getJson<Endpoint>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found`));
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), { ...ep, joined: true });
          const net = await getJson<{ gateway: string }>(ctx.store, netKey(req.NetworkID));
          const gw = net?.gateway.split('/')[0] ?? '';
          return { InterfaceName: { SrcName: ifname(ctx.plugin, req.EndpointID), DstPrefix: 'eth' }, ...(gw !== '' ? { Gateway: gw } : {}) };
        },
        Leave: async (req, ctx) => {
          const ep = await getJson<Endpoint>(ctx.store, epKey(req.NetworkID, req.EndpointID));
          if (ep === undefined) return left(errors.notFound(ctx.plugin, `Endpoint "${req.EndpointID}" not found`));
          await putJson(ctx.store, epKey(req.NetworkID, req.EndpointID), { ...ep, joined: false });
          return {};
        },
      },
    },
  });
}
