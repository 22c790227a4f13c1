/**
 * The `weft` plugin: the Docker-facing side of Weft. One kernel plugin provides both contracts
 * Docker's remote-driver protocol speaks — NetworkDriver and IpamDriver — under the name `weft`,
 * and implements them by invoking the control plane (`control`), the IPAM (`ipam`) and the overlay
 * driver (`overlay`) through the kernel. It keeps only its own mapping in `ctx.store`:
 *
 *   pools/<PoolID>            a pool handed to Docker, and the Weft network behind it
 *   networks/<DockerNetID>    a Docker network, its Weft network and this host's instance of it
 *   endpoints/<Net>/<EpID>    a Docker endpoint (its Weft endpoint has the same ID)
 *   addresses/<PoolID>/<IP>   which IPAM pool (or block) an address Docker holds came from
 *
 * Docker never replays after a plugin restart, so every answer is persisted before it is given.
 * Requests are serialised per plugin instance: Docker sends them in parallel (`docker rm -f a b`)
 * and each one reads and writes several records.
 *
 * Why not the engine: the engine instantiates networks only for its own sandboxes (namespaces it
 * creates); Docker brings its own sandbox (SandboxKey) and expects the interface in dockerd's
 * namespace, so this plugin programs the host itself, the way the engine does, via the kernel.
 */
import * as fs from 'node:fs';
import { listJson, definePlugin, getJson, type PluginDefinition } from '@weft/kernel';
import { DockerPluginConfig, DOCKER_PLUGIN_VERSION, type DockerPluginOptions } from './config.ts';
import { createDeps } from './deps.ts';
import { closeContainerDns, ensureContainerDns, recordAccess, stopped, type EpRec } from './records.ts';
import { weftSide } from './weft.ts';
import { endpointSide } from './endpoints.ts';
import { ipamHandlers } from './ipam.ts';
import { networkHandlers } from './network.ts';

export function dockerPlugin(opts: DockerPluginOptions = {}): PluginDefinition<DockerPluginConfig> {
  const d = createDeps(opts);
  const { name, OVERLAY, IPAM, host } = d;
  const rec = recordAccess(d);
  const weft = weftSide(d);
  const eps = endpointSide(d);
  const { reattach, nameRecord } = eps;

  return definePlugin<DockerPluginConfig>({
    manifest: {
      name,
      version: DOCKER_PLUGIN_VERSION,
      kernel: '^0.1.0',
      provides: ['NetworkDriver', 'IpamDriver', 'containers'],
      requires: [`plugin:${OVERLAY}`, `plugin:${IPAM}`],
      optional: ['control', 'dns', 'tables'],
      config: DockerPluginConfig,
      description: 'Docker Engine integration: Weft overlay networks as a Docker network and IPAM driver',
    },
    services: {
      // The containers dockerd attached to Weft networks here (the services plugin balances VIPs in them).
      containers: (ctx) => ({
        async list() {
          const byNs = new Map<string, { id: string; name: string; netnsPath: string; networks: string[] }>();
          for (const [, ep] of await listJson<EpRec>(ctx.store, 'endpoints/')) {
            if (ep?.joined !== true || ep.sandboxKey === undefined || !fs.existsSync(ep.sandboxKey)) continue;
            const net = await getJson<{ weft?: { id: string } }>(ctx.store, `networks/${ep.network}`);
            if (net?.weft === undefined) continue;
            const c = byNs.get(ep.sandboxKey) ?? { id: ep.id, name: ep.name ?? ep.id, netnsPath: ep.sandboxKey, networks: [] };
            c.networks.push(net.weft.id);
            byNs.set(ep.sandboxKey, c);
          }
          return [...byNs.values()];
        },
      }),
    },
    handlers: {
      IpamDriver: ipamHandlers(d, rec, weft),
      NetworkDriver: networkHandlers(d, rec, weft, eps),
    },
    start: async (ctx) => {
      stopped.delete(ctx.store);
      await reattach(ctx);
      for (const [, ep] of await listJson<EpRec>(ctx.store, 'endpoints/')) {
        if (ep?.joined !== true) continue;
        await nameRecord(ctx, ep);
        const net = ep.sandboxKey === undefined ? undefined : await getJson<{ weft?: { id: string } }>(ctx.store, `networks/${ep.network}`);
        if (net?.weft !== undefined) {
          // After a restart: serve the running containers again (and end an earlier version's relay).
          if (ep.dnsPid !== undefined) host.stopDnsBridge(ep.dnsPid, ep.sandboxKey!);
          const key = ep.sandboxKey!;
          const weftId = net.weft.id;
          void ensureContainerDns(ctx).then((c) => c?.add(ep.id, key, weftId));
        }
      }
    },
    stop: async (ctx) => {
      stopped.add(ctx.store);
      await closeContainerDns(ctx.store);
    },
  });
}
