/**
 * The overlay driver: Docker's `overlay`, multi-host networks on the userspace switch (the shared
 * core is @weft/switch). Endpoint records are replicated through the `tables` service (gossip):
 * a network is joined in gossip at its first local Join and left at its last Leave, and remote
 * endpoints arrive as table events and are programmed into the data path as peers.
 */
import * as t from 'io-ts';
import { right } from 'fp-ts/lib/Either.js';
import { ENDPOINTS_TABLE, decodeEndpointRecord, type DataPath, type PluginDefinition, type TableEvent } from '@weft/kernel';
import { nodeName, switchDriver, type EndpointSharing, type SwitchConfig } from '@weft/switch';

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
export type OverlayConfig = SwitchConfig;

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
    // IPv6-only endpoints have no IPv4 address ('' in the record).
    ...(rec.ipv4 !== '' ? { ipv4: rec.ipv4.split('/')[0]! } : {}),
    ...(rec.ipv6 !== undefined && rec.ipv6 !== '' ? { ipv6: rec.ipv6.split('/')[0]! } : {}),
    vtep: rec.vtep,
    ...(rec.vtepPort !== undefined ? { vtepPort: rec.vtepPort } : {}),
    ...(rec.dataplane !== undefined ? { dataplane: rec.dataplane } : {}),
    node: rec.node,
    name: rec.name,
    ...(rec.aliases !== undefined ? { aliases: rec.aliases } : {}),
  });
}

/** Endpoint records replicated to the network's other hosts through the gossip tables. */
const gossipSharing: EndpointSharing = {
  async join(ctx, network) {
    const tables = ctx.services.get('tables');
    await tables.joinNetwork(network);
    const self = nodeName(ctx);
    const datapath = ctx.services.get('datapath');
    // Program the peers already known (events cover the ones learned later).
    for (const entry of tables.entries(network, ENDPOINTS_TABLE)) applyTableEvent({ type: 'create', entry }, self, datapath);
  },
  async leave(ctx, network) {
    await ctx.services.get('tables').leaveNetwork(network);
  },
  publish(ctx, ep, record) {
    ctx.services.get('tables').put(ep.network, ENDPOINTS_TABLE, ep.id, record);
  },
  unpublish(ctx, ep) {
    ctx.services.get('tables').delete(ep.network, ENDPOINTS_TABLE, ep.id);
  },
};

/** Docker's `overlay`: multi-host, endpoints replicated through the gossip tables. */
export function overlayPlugin(name = 'overlay'): PluginDefinition<OverlayConfig> {
  return switchDriver({
    name,
    requires: ['datapath', 'tables'],
    config: OverlayConfig as t.Type<SwitchConfig, unknown, unknown>,
    description: 'multi-host overlay networks: VXLAN data path, gossip tables, optional encryption',
    capabilities: (ctx) => ({ Scope: ctx.config.scope ?? 'local', ConnectivityScope: 'global' }),
    cipherOverhead: (ctx) => (ctx.services.has('cipher') ? ctx.services.get('cipher').overhead : undefined),
    network: (_ctx, _req, spec) => right(spec),
    sharing: gossipSharing,
    onTable: (e, ctx) => {
      if (!ctx.services.has('datapath')) return;
      applyTableEvent(e, nodeName(ctx), ctx.services.get('datapath'));
    },
  });
}
