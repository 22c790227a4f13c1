/** NetworkDriver: Docker networks and endpoints on the overlay, through the Weft network they map to. */
import { isLeft } from 'fp-ts/lib/Either.js';
import { listJson, WeftOptions, DockerOptions, errors, formatError, getJson, putJson, raise, type Handlers } from '@weft/kernel';
import { WEFT_NETWORK, bare, firstHost, mapCreateOptions, normaliseCidr, prefixLen } from './options.ts';
import { attachmentName, type DockerPluginConfig } from './config.ts';
import type { Deps } from './deps.ts';
import { ensureContainerDns, epKey, netKey, poolKey, serial, type EpRec, type NetRec } from './records.ts';
import type { RecordAccess } from './records.ts';
import type { WeftSide } from './weft.ts';
import type { EndpointSide } from './endpoints.ts';

export function networkHandlers(d: Deps, rec: RecordAccess, w_: WeftSide, e_: EndpointSide): NonNullable<Handlers<DockerPluginConfig>['NetworkDriver']> {
  const { name, OVERLAY, CONTROL, host, call, attempt, hasControl } = d;
  const { netOf, epOf, pools, weftOf } = rec;
  const { ensureBound, noNameError, teardown } = w_;
  const { publishName, stopBridge, removeEndpoint } = e_;
  return {
    GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'global' }),

    CreateNetwork: (req, ctx) => serial(ctx, async () => {
      if ((await ctx.store.get(netKey(req.NetworkID))) !== undefined) {
        raise(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`, { value: req.NetworkID }));
      }
      const v6 = req.IPv6Data ?? [];
      if (v6.length > 1) raise(errors.badRequest(ctx.plugin, `A Docker network of driver "${name}" takes at most one IPv6 subnet (got ${v6.map((x) => x.Pool).join(', ')})`, { path: 'IPv6Data' }));
      const v4 = req.IPv4Data ?? [];
      const d = v4[0];
      if (d === undefined || v4.length > 1) {
        raise(errors.badRequest(ctx.plugin, `A Docker network of driver "${name}" needs exactly one IPv4 subnet from the "${name}" IPAM driver`, { path: 'IPv4Data', hint: `Create it with --ipam-driver ${name}.` }));
      }
      const subnet = normaliseCidr(d.Pool);
      const gateway = bare(d.Gateway ?? '') !== '' ? bare(d.Gateway!) : undefined;
      const candidates = (await pools(ctx)).filter((p) => p.subnet === subnet && p.space === (d.AddressSpace ?? p.space) && (gateway === undefined || p.gateway === undefined || p.gateway === gateway));
      const pool = candidates.reverse().find((p) => p.network === undefined);
      if (pool === undefined) {
        const other = candidates.find((p) => p.network !== undefined);
        if (other !== undefined) {
          raise(errors.conflict(ctx.plugin, `Subnet ${subnet} already backs Docker network ${other.network!.slice(0, 12)} on this host; one Docker network per Weft network per dockerd`, { path: 'IPv4Data[0].Pool', value: subnet }));
        }
        raise(errors.badRequest(ctx.plugin, `Subnet ${subnet} was not allocated by the "${name}" IPAM driver; Weft must hand out the addresses of its networks`, { path: 'IPv4Data[0].AddressSpace', value: d.AddressSpace, hint: `Create the network with --ipam-driver ${name}.` }));
      }
      // --ipv6: the IPv6 pool this IPAM driver handed out for the same network (Docker's second RequestPool).
      const d6 = v6[0];
      const subnet6 = d6 !== undefined ? normaliseCidr(d6.Pool) : undefined;
      const gateway6 = d6 !== undefined && bare(d6.Gateway ?? '') !== '' ? bare(d6.Gateway!) : undefined;
      const pool6 = subnet6 === undefined ? undefined : (await pools(ctx)).filter((p) => p.v6 === true && p.subnet === subnet6 && p.network === undefined).reverse()[0];
      if (subnet6 !== undefined && pool6 === undefined) {
        raise(errors.badRequest(ctx.plugin, `IPv6 subnet ${subnet6} was not allocated by the "${name}" IPAM driver (or already backs a Docker network on this host)`, { path: 'IPv6Data[0].Pool', value: subnet6, hint: `Create the network with --ipam-driver ${name}.` }));
      }
      const m = mapCreateOptions(req.Options ?? {});
      if (!m.ok) raise(errors.badRequest(ctx.plugin, `Cannot create network "${req.NetworkID}": ${m.message}`, { path: m.path, value: m.value }));
      // The Weft network by ID when the pool found it, so a rename cannot redirect it.
      const wanted = m.value.network ?? pool.wanted ?? pool.weft?.id;
      if (m.value.network !== undefined && pool.weft !== undefined && m.value.network !== pool.weft.name && m.value.network !== pool.weft.id) {
        raise(errors.conflict(ctx.plugin, `-o ${WEFT_NETWORK}=${m.value.network} disagrees with the pool, which belongs to Weft network "${pool.weft.name}"`, { value: m.value.network }));
      }
      // Let the overlay judge the options (encryption, MTU, VXLAN IDs) before anything is
      // created cluster-wide: a throw-away network under a probe ID, removed at once.
      const probe = `weft-probe-${req.NetworkID.slice(0, 12)}`;
      const p = await ctx.invoke(OVERLAY, 'NetworkDriver.CreateNetwork', {
        NetworkID: probe,
        Options: { [DockerOptions.generic]: m.value.options, [DockerOptions.internal]: m.value.internal },
        IPv4Data: [{ AddressSpace: pool.space, Pool: subnet, Gateway: `${gateway ?? pool.gateway ?? firstHost(subnet)}/${prefixLen(subnet)}` }],
        IPv6Data: subnet6 === undefined ? [] : [{ AddressSpace: pool6!.space, Pool: subnet6, Gateway: `${gateway6 ?? pool6!.gateway ?? firstHost(subnet6)}/${prefixLen(subnet6)}` }],
      });
      if (isLeft(p)) {
        // Name the network the user knows, not the probe.
        const shown = wanted !== undefined && wanted !== pool.weft?.id ? wanted : (pool.weft?.name ?? req.NetworkID.slice(0, 12));
        raise({ ...p.left, message: p.left.message.split(probe).join(shown) });
      }
      await attempt(ctx, OVERLAY, 'NetworkDriver.DeleteNetwork', { NetworkID: probe });
      const net: NetRec = {
        id: req.NetworkID,
        subnet,
        gateway: gateway ?? pool.gateway ?? firstHost(subnet),
        options: m.value.options,
        internal: m.value.internal,
        aux: pool.aux,
        createdWeft: pool.createdWeft === true,
        ...(wanted !== undefined ? { wanted } : {}),
        ...(subnet6 !== undefined ? { subnet6, gateway6: gateway6 ?? pool6!.gateway ?? firstHost(subnet6) } : {}),
      };
      if (wanted === undefined && ctx.config.dockerHost === undefined) raise(noNameError(ctx));
      if (wanted !== undefined) await ensureBound(ctx, net);
      // else: dockerd stores the network only after this call returns; its name is looked up
      // when the first container asks for an address.
      await putJson(ctx.store, netKey(net.id), net);
      pool.network = net.id;
      await putJson(ctx.store, poolKey(pool.id), pool);
      if (pool6 !== undefined) {
        pool6.network = net.id;
        await putJson(ctx.store, poolKey(pool6.id), pool6);
      }
      return {};
    }),

    DeleteNetwork: (req, ctx) => serial(ctx, async () => {
      const net = await getJson<NetRec>(ctx.store, netKey(req.NetworkID));
      if (net === undefined) return {};
      for (const [, ep] of await listJson<EpRec>(ctx.store, `endpoints/${net.id}/`)) {
        if (ep !== undefined) await removeEndpoint(ctx, net, ep);
      }
      await teardown(ctx, net);
      if (net.createdWeft && net.weft !== undefined) {
        // Docker created it, Docker removes it — unless other hosts still use it.
        const r = await ctx.invoke(CONTROL, 'Network.Remove', { Network: net.weft.id });
        if (isLeft(r)) ctx.log.info('kept the Weft network: it is still in use', { network: net.weft.name, reason: formatError(r.left) });
      }
      for (const p of await pools(ctx)) if (p.network === net.id) await ctx.store.delete(poolKey(p.id));
      for (const k of await ctx.store.keys('addresses/')) {
        // Addresses Docker never released belong to pools of this network only.
        const poolId = k.split('/')[1] ?? '';
        if ((await ctx.store.get(poolKey(poolId))) === undefined) await ctx.store.delete(k);
      }
      await ctx.store.delete(netKey(net.id));
      return {};
    }),

    CreateEndpoint: (req, ctx) => serial(ctx, async () => {
      const { net, weft } = await ensureBound(ctx, await netOf(ctx, req.NetworkID));
      if ((await ctx.store.get(epKey(net.id, req.EndpointID))) !== undefined) {
        raise(errors.conflict(ctx.plugin, `Endpoint "${req.EndpointID}" already exists in network "${net.id}"`));
      }
      const address = req.Interface?.Address ?? '';
      if (address === '') raise(errors.badRequest(ctx.plugin, `An endpoint needs an IPv4 address from the "${name}" IPAM driver`, { path: 'Interface.Address' }));
      const address6 = req.Interface?.AddressIPv6 ?? '';
      if (address6 !== '' && net.subnet6 === undefined) {
        raise(errors.badRequest(ctx.plugin, `Docker network ${net.id.slice(0, 12)} has no IPv6 subnet, but the endpoint got IPv6 address ${address6}`, { path: 'Interface.AddressIPv6', value: address6 }));
      }
      const ep: EpRec = { network: net.id, id: req.EndpointID, address, ...(address6 !== '' ? { address6 } : {}), attached: false, joined: false };
      if (hasControl(ctx)) {
        await call(ctx, CONTROL, 'Network.Attach', { Network: weft.Id, Sandbox: attachmentName(ep.id) });
        ep.attached = true;
      }
      // Persist first: a crash from here on leaves a record DeleteEndpoint can clean up.
      await putJson(ctx.store, epKey(net.id, ep.id), ep);
      const r = await ctx.invoke(OVERLAY, 'NetworkDriver.CreateEndpoint', {
        NetworkID: weft.Id,
        EndpointID: ep.id,
        Interface: { Address: address, AddressIPv6: address6, MacAddress: req.Interface?.MacAddress ?? '' },
        Options: {},
      });
      if (isLeft(r)) {
        if (ep.attached) await attempt(ctx, CONTROL, 'Network.Detach', { Network: weft.Id, Sandbox: attachmentName(ep.id) });
        await ctx.store.delete(epKey(net.id, ep.id));
        raise(r.left);
      }
      const out = r.right as { Interface?: { MacAddress?: string } };
      ep.mac = (out.Interface?.MacAddress ?? req.Interface?.MacAddress ?? '').toLowerCase();
      await putJson(ctx.store, epKey(net.id, ep.id), ep);
      return out;
    }),

    DeleteEndpoint: (req, ctx) => serial(ctx, async () => {
      const ep = await getJson<EpRec>(ctx.store, epKey(req.NetworkID, req.EndpointID));
      if (ep === undefined) return {};
      await removeEndpoint(ctx, await netOf(ctx, req.NetworkID), ep);
      return {};
    }),

    EndpointOperInfo: (req, ctx) => serial(ctx, async () => {
      const ep = await epOf(ctx, req.NetworkID, req.EndpointID);
      const net = await netOf(ctx, req.NetworkID);
      const w = weftOf(ctx, net);
      const r = await call<{ Value: Record<string, unknown> }>(ctx, OVERLAY, 'NetworkDriver.EndpointOperInfo', { NetworkID: w.id, EndpointID: ep.id });
      return { Value: { ...r.Value, [WeftOptions.network]: w.name, [WeftOptions.networkId]: w.id } };
    }),

    Join: (req, ctx) => serial(ctx, async () => {
      const ep = await epOf(ctx, req.NetworkID, req.EndpointID);
      const w = weftOf(ctx, await netOf(ctx, req.NetworkID));
      // No weft.sandbox.move: the overlay creates the TAP in this process's namespace, which
      // is dockerd's; Docker moves it into the container and renames it eth<n>.
      const r = await call<{ InterfaceName: { SrcName: string; DstPrefix: string }; Gateway?: string; DisableGatewayService?: boolean }>(ctx, OVERLAY, 'NetworkDriver.Join', {
        NetworkID: w.id,
        EndpointID: ep.id,
        SandboxKey: req.SandboxKey,
        Options: {},
      });
      ep.joined = true;
      ep.srcName = r.InterfaceName.SrcName;
      ep.sandboxKey = req.SandboxKey;
      // Weft's names inside the container: the agent's responder opens its socket there once the container runs.
      void ensureContainerDns(ctx).then((c) => c?.add(ep.id, req.SandboxKey, w.id));
      await putJson(ctx.store, epKey(ep.network, ep.id), ep);
      if (ctx.config.dockerHost !== undefined) void publishName(ctx, ep.network, ep.id, ctx.config.dockerHost);
      return { ...r, ...(r.Gateway !== undefined ? { Gateway: bare(r.Gateway) } : {}) };
    }),

    Leave: (req, ctx) => serial(ctx, async () => {
      const ep = await epOf(ctx, req.NetworkID, req.EndpointID);
      const w = weftOf(ctx, await netOf(ctx, req.NetworkID));
      await call(ctx, OVERLAY, 'NetworkDriver.Leave', { NetworkID: w.id, EndpointID: ep.id });
      ep.joined = false;
      stopBridge(ctx, ep);
      await putJson(ctx.store, epKey(ep.network, ep.id), ep);
      return {};
    }),

    ProgramExternalConnectivity: () => ({}),
    RevokeExternalConnectivity: () => ({}),
    DiscoverNew: () => ({}),
    DiscoverDelete: () => ({}),
  };
}
