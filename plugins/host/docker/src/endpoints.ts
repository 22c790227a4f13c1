/**
 * Docker endpoints beyond the driver calls: container names published in the endpoints table,
 * the DNS bridge inside containers, re-attaching interfaces after an agent restart, and removal.
 */
import { WeftJoinOptions, ENDPOINTS_TABLE, decodeEndpointRecord, encodeEndpointRecord, formatError, getJson, putJson, WeftException, type Context } from '@weft/kernel';
import type { DockerPluginConfig } from './config.ts';
import type { Deps } from './deps.ts';
import { attachmentName } from './config.ts';
import { containerDnsOf, epKey, netKey, pause, serial, stopped, type EpRec, type NetRec } from './records.ts';

export interface EndpointSide {
  publishName(ctx: Context<DockerPluginConfig>, network: string, endpointId: string, dockerHost: string): Promise<void>;
  nameRecord(ctx: Context<DockerPluginConfig>, ep: EpRec): Promise<void>;
  stopBridge(ctx: Context<DockerPluginConfig>, ep: EpRec): void;
  reattach(ctx: Context<DockerPluginConfig>): Promise<void>;
  removeEndpoint(ctx: Context<DockerPluginConfig>, net: NetRec, ep: EpRec): Promise<void>;
}

export function endpointSide(d: Deps): EndpointSide {
  const { OVERLAY, CONTROL, host, call, attempt, hasControl } = d;
  /**
   * Docker does not tell drivers the container's name, and dockerd answers about a container only
   * once its start (of which Join is a part) has finished. So after Join, ask dockerd in the
   * background for the container holding this endpoint, then add the name to the endpoint record
   * the overlay published (the kernel's EndpointRecord contract), so Weft's resolver on every host
   * answers it.
   */
  async function publishName(ctx: Context<DockerPluginConfig>, network: string, endpointId: string, dockerHost: string): Promise<void> {
    for (let i = 0; i < 60 && !stopped.has(ctx.store); i++) {
      await pause(i === 0 ? 200 : 500);
      if (stopped.has(ctx.store)) return;
      let name: string | undefined;
      try {
        name = await host.containerOf(dockerHost, network, endpointId);
      } catch {
        name = undefined;
      }
      if (name === undefined) continue;
      await serial(ctx, async () => {
        const ep = await getJson<EpRec>(ctx.store, epKey(network, endpointId));
        if (ep === undefined || !ep.joined) return;
        ep.name = name;
        await putJson(ctx.store, epKey(network, endpointId), ep);
        await nameRecord(ctx, ep);
      }).catch((e) => ctx.log.warn('could not publish a container name', { endpoint: endpointId, error: String(e) }));
      return;
    }
  }

  /** Sets the name in this endpoint's record in the endpoints table (re-done after a restart). */
  async function nameRecord(ctx: Context<DockerPluginConfig>, ep: EpRec): Promise<void> {
    if (ep.name === undefined || !ctx.services.has('tables')) return;
    const net = await getJson<NetRec>(ctx.store, netKey(ep.network));
    if (net?.weft === undefined) return;
    const tables = ctx.services.get('tables');
    const cur = tables.get(net.weft.id, ENDPOINTS_TABLE, ep.id);
    const rec = cur === undefined || cur.deleted ? undefined : decodeEndpointRecord(cur.value);
    if (rec === undefined || rec.name === ep.name) return;
    tables.put(net.weft.id, ENDPOINTS_TABLE, ep.id, encodeEndpointRecord({ ...rec, name: ep.name }));
  }

  /** Stops answering DNS inside the endpoint's container (and the relay process of an earlier version, if one runs). */
  function stopBridge(ctx: Context<DockerPluginConfig>, ep: EpRec): void {
    containerDnsOf.get(ctx.store)?.remove(ep.id);
    if (ep.dnsPid !== undefined && ep.sandboxKey !== undefined) host.stopDnsBridge(ep.dnsPid, ep.sandboxKey);
    delete ep.dnsPid;
  }

  /**
   * After an agent restart the overlay re-programs its endpoints where it made their interfaces,
   * in the agent's namespace, but Docker moved each into its container and renamed it. Find it
   * there by MAC. A TAP (userspace switch) lost its reader with the old process: hand it to the
   * overlay as a sandbox interface (Leave, then Join with weft.sandbox.move), which re-opens the
   * same device, so the running container keeps its eth0, address and routes and traffic resumes.
   * A veth (kernel data path) never stopped carrying: its other end is still on the network's
   * bridge, and the data path re-attached it by that end. Leave would delete the pair, so it is
   * left alone.
   */
  async function reattach(ctx: Context<DockerPluginConfig>): Promise<void> {
    for (const k of await ctx.store.keys('endpoints/')) {
      const ep = await getJson<EpRec>(ctx.store, k);
      if (ep === undefined || !ep.joined || ep.inSandbox === true || ep.sandboxKey === undefined || ep.mac === undefined) continue;
      const net = await getJson<NetRec>(ctx.store, netKey(ep.network));
      if (net?.weft === undefined) continue;
      const link = host.linkByMac(ep.sandboxKey, ep.mac);
      if (link === undefined) {
        ctx.log.warn('a joined Docker endpoint has no interface in its container any more', { endpoint: ep.id, sandbox: ep.sandboxKey });
        continue;
      }
      const inner = link.ifname;
      if (!link.tap) {
        ctx.log.info('a Docker endpoint\'s veth carried on through the restart: nothing to re-attach', { endpoint: ep.id, ifname: inner });
        continue;
      }
      try {
        await call(ctx, OVERLAY, 'NetworkDriver.Leave', { NetworkID: net.weft.id, EndpointID: ep.id });
        await call(ctx, OVERLAY, 'NetworkDriver.Join', { NetworkID: net.weft.id, EndpointID: ep.id, SandboxKey: ep.sandboxKey, Options: { [WeftJoinOptions.moveIntoSandbox]: true, [WeftJoinOptions.dstName]: inner } });
        ep.inSandbox = true;
        await putJson(ctx.store, k, ep);
        ctx.log.info('re-attached a Docker endpoint inside its container', { endpoint: ep.id, ifname: inner });
      } catch (e) {
        ctx.log.error('could not re-attach a Docker endpoint after restart', { endpoint: ep.id, error: e instanceof WeftException ? formatError(e.error) : String(e) });
      }
    }
  }

  /** Overlay endpoint, control-plane attachment, any interface Docker handed back, the record. */
  async function removeEndpoint(ctx: Context<DockerPluginConfig>, net: NetRec, ep: EpRec): Promise<void> {
    if (net.weft !== undefined) {
      await attempt(ctx, OVERLAY, 'NetworkDriver.DeleteEndpoint', { NetworkID: net.weft.id, EndpointID: ep.id });
      if (ep.attached && hasControl(ctx)) await attempt(ctx, CONTROL, 'Network.Detach', { Network: net.weft.id, Sandbox: attachmentName(ep.id) });
    }
    // Docker moves the interface back into its namespace under SrcName after Leave; the overlay
    // closed the TAP, which normally deletes it, but a device that outlived that must not linger.
    if (ep.srcName !== undefined && host.linkExists(ep.srcName)) host.linkDelete(ep.srcName);
    stopBridge(ctx, ep);
    await ctx.store.delete(epKey(net.id, ep.id));
  }

  return { publishName, nameRecord, stopBridge, reattach, removeEndpoint };
}
