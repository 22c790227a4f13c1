/**
 * Docker's `bridge`: single-host networks on the userspace switch (the shared core is
 * @weft/switch), without VXLAN: the data path gets VNI 0, local only, so nothing is encapsulated
 * and no VXLAN is accepted for it. Endpoint names still reach the embedded DNS, as local `table`
 * events that are not replicated.
 */
import * as t from 'io-ts';
import { left, right } from 'fp-ts/lib/Either.js';
import { ENDPOINTS_TABLE, errors, type PluginDefinition, type TableEvent } from '@weft/kernel';
import { nodeName, switchDriver, type EndpointSharing, type SwitchConfig } from '@weft/switch';

/** Bridge networks never leave the host: no VTEP to configure. */
export const BridgeConfig = t.partial({ node: t.string });

/** Endpoint records published as local table events (for the DNS), never replicated. */
const localSharing: EndpointSharing = {
  join: async () => {},
  leave: async () => {},
  publish: (ctx, ep, record) => ctx.events.publish('table', localEvent('create', nodeName(ctx), ctx.now(), ep.network, ep.id, record)),
  unpublish: (ctx, ep, record) => ctx.events.publish('table', localEvent('delete', nodeName(ctx), ctx.now(), ep.network, ep.id, record)),
};

function localEvent(type: 'create' | 'delete', owner: string, lamport: number, network: string, key: string, value: Uint8Array): TableEvent {
  return { type, entry: { network, table: ENDPOINTS_TABLE, key, value, owner, lamport, deleted: type === 'delete', stale: false } };
}

/**
 * Docker's `bridge`: one host, the same userspace switch with no VXLAN (VNI 0 = local only). Its
 * endpoints' names still reach the embedded DNS, as local `table` events that are not replicated.
 */
export function bridgePlugin(name = 'bridge'): PluginDefinition<SwitchConfig> {
  return switchDriver({
    name,
    requires: ['datapath'],
    config: BridgeConfig as t.Type<SwitchConfig, unknown, unknown>,
    description: 'single-host networks on the userspace switch (no VXLAN)',
    capabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    // A bridge refuses encryption outright (below); it never needs a cipher to say so.
    cipherOverhead: () => 0,
    network: (ctx, req, spec) => {
      if (spec.encrypted) {
        return left(errors.badRequest(ctx.plugin, `Cannot create network "${req.NetworkID}": bridge networks never leave this host, so there is nothing to encrypt`, {
          path: 'Options["com.docker.network.generic"]["encrypted"]',
          hint: 'Use an overlay network (-d overlay --opt encrypted) for encrypted traffic between hosts.',
        }));
      }
      // VNI 0: a local-only network, never encapsulated; VXLAN for it is never accepted.
      return right({ ...spec, vni: 0 });
    },
    sharing: localSharing,
  });
}
