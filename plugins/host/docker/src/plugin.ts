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
import { listJson, definePlugin, getJson, type PluginDefinition } from '@weft/kernel';
import { DEFAULT_DNS_ADDRESS, DockerPluginConfig, DOCKER_PLUGIN_VERSION, type DockerPluginOptions } from './config.ts';
import { createDeps } from './deps.ts';
import { dnsServers, recordAccess, stopped, type EpRec } from './records.ts';
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
      provides: ['NetworkDriver', 'IpamDriver'],
      requires: [`plugin:${OVERLAY}`, `plugin:${IPAM}`],
      optional: ['control', 'dns', 'tables'],
      config: DockerPluginConfig,
      description: 'Docker Engine integration: Weft overlay networks as a Docker network and IPAM driver',
    },
    handlers: {
      IpamDriver: ipamHandlers(d, rec, weft),
      NetworkDriver: networkHandlers(d, rec, weft, eps),
    },
    start: async (ctx) => {
      stopped.delete(ctx.store);
      await reattach(ctx);
      for (const [, ep] of await listJson<EpRec>(ctx.store, 'endpoints/')) {
        if (ep?.joined === true) await nameRecord(ctx, ep);
      }
      const sock = ctx.config.dnsSocket;
      if (sock !== undefined && ctx.services.has('dns')) {
        const dns = ctx.services.get('dns');
        dnsServers.set(ctx.store, await host.serveDns(sock, (network, query) => dns.resolve(query, network, query.length)));
        ctx.log.info('answering DNS for containers', { socket: sock, address: ctx.config.dnsAddress ?? DEFAULT_DNS_ADDRESS });
      }
    },
    stop: async (ctx) => {
      stopped.add(ctx.store);
      await dnsServers.get(ctx.store)?.close();
      dnsServers.delete(ctx.store);
    },
  });
}
