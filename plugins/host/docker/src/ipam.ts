/** IpamDriver: Docker's pools and addresses, mapped to Weft networks and this node's blocks. */
import { randomBytes } from 'node:crypto';
import {
  DockerOptions,
  errors,
  getJson,
  putJson,
  raise,
  type Context,
  type Handlers,
} from '@weft/kernel';
import { WEFT_NETWORK, bare, firstHost, inSubnet, isV4, normaliseCidr, prefixLen } from './options.ts';
import type { DockerPluginConfig } from './config.ts';
import type { Deps } from './deps.ts';
import { addrKey, poolKey, serial, type AddrRec, type PoolRec, type RecordAccess } from './records.ts';
import type { WeftNetwork, WeftSide } from './weft.ts';

export function ipamHandlers(d: Deps, rec: RecordAccess, w_: WeftSide): NonNullable<Handlers<DockerPluginConfig>['IpamDriver']> {
  const { name, IPAM, CONTROL, call, attempt, hasControl } = d;
  const WEFT_CREATED_LABEL = 'weft.docker.created';
  const { poolOf, netOf, pools } = rec;
  const { findWeft, weftNetworks, checkUsable, ensureBound, allocate } = w_;
  /** The Weft network's subnet a pool stands for (its IPv4 one, or its IPv6 one for a V6 pool). */
  const subnetOf = (w: WeftNetwork | undefined, pool: PoolRec) => w?.Subnets.find((s) => normaliseCidr(s.Subnet) === pool.subnet) ?? (pool.v6 === true ? undefined : w?.Subnets[0]);

  /**
   * `--ipv6`: Docker's second RequestPool (`V6: true`), after the IPv4 one. The IPv6 subnet of the
   * Weft network named (`--ipam-opt weft.network=`) or holding the given subnet; for a Weft network
   * made at CreateNetwork, the given subnet (Weft picks no IPv6 subnet for a Docker network).
   */
  async function requestPool6(ctx: Context<DockerPluginConfig>, space: string, wanted: string | undefined, given: string | undefined) {
    if (given !== undefined && isV4(given)) {
      raise(errors.badRequest(ctx.plugin, `Subnet ${given} is IPv4, but Docker asked for the IPv6 pool (--ipv6)`, { path: 'Pool', value: given, hint: 'Give an IPv6 --subnet beside the IPv4 one, such as fd00:1::/64.' }));
    }
    let w: WeftNetwork | undefined;
    if (wanted !== undefined) w = await findWeft(ctx, wanted);
    else if (given !== undefined) w = (await weftNetworks(ctx)).find((n) => n.Subnets.some((s) => normaliseCidr(s.Subnet) === given));
    let subnet: string;
    if (w !== undefined) {
      checkUsable(ctx, w);
      const s6 = w.Subnets.find((s) => !isV4(s.Subnet));
      if (s6 === undefined) {
        raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has no IPv6 subnet, but --ipv6 was given`, { path: 'V6', value: w.Name, hint: 'Drop --ipv6, or map to a Weft network created with --ipv6.' }));
      }
      subnet = normaliseCidr(s6.Subnet);
      if (given !== undefined && given !== subnet) {
        raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has IPv6 subnet ${subnet}, not ${given}`, { path: 'Pool', value: given, hint: `Use --subnet ${subnet}, or omit the IPv6 --subnet together with --ipam-opt ${WEFT_NETWORK}=${w.Name}.` }));
      }
    } else {
      if (given === undefined) {
        raise(errors.badRequest(ctx.plugin, 'An IPv6 Docker network of driver "weft" needs an IPv6 --subnet (beside the IPv4 one) unless it maps to a Weft network that has one', {
          path: 'Pool', hint: `Add --subnet fd00:N::/64, or --ipam-opt ${WEFT_NETWORK}=NAME of a Weft network created with --ipv6.`,
        }));
      }
      subnet = given;
    }
    const bound = (await pools(ctx)).find((p) => p.subnet === subnet && p.network !== undefined);
    const id = `weft-${randomBytes(8).toString('hex')}`;
    const rec: PoolRec = {
      id,
      space,
      subnet,
      aux: [],
      v6: true,
      ...(w !== undefined ? { weft: { id: w.Id, name: w.Name } } : {}),
      ...(w === undefined && wanted !== undefined ? { wanted } : {}),
      ...(bound?.network !== undefined ? { network: bound.network, gateway: bound.gateway ?? firstHost(subnet) } : {}),
    };
    await putJson(ctx.store, poolKey(id), rec);
    return { PoolID: id, Pool: subnet, Data: {} };
  }

  return {
    GetCapabilities: () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    GetDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'weft-local', GlobalDefaultAddressSpace: 'weft-global' }),

    RequestPool: (req, ctx) => serial(ctx, async () => {
      if ((req.SubPool ?? '') !== '') {
        raise(errors.unsupported(ctx.plugin, `--ip-range ${req.SubPool} is not supported: Weft hands each host address blocks of the whole subnet`, { path: 'SubPool', value: req.SubPool }));
      }
      const opts = req.Options ?? {};
      const wantedRaw = opts[WEFT_NETWORK];
      const wanted = wantedRaw !== undefined && wantedRaw.trim() !== '' ? wantedRaw.trim() : undefined;
      const given = (req.Pool ?? '') !== '' ? normaliseCidr(req.Pool!) : undefined;
      if (req.V6 === true) return requestPool6(ctx, req.AddressSpace, wanted, given);
      let w: WeftNetwork | undefined;
      if (wanted !== undefined) w = await findWeft(ctx, wanted);
      else if (given !== undefined) w = (await weftNetworks(ctx)).find((n) => n.Subnets.some((s) => normaliseCidr(s.Subnet) === given));
      let subnet: string;
      let created = false;
      if (w !== undefined) {
        checkUsable(ctx, w);
        subnet = normaliseCidr(w.Subnets[0]!.Subnet);
        if (given !== undefined && given !== subnet) {
          raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has subnet ${subnet}, not ${given}`, { path: 'Pool', value: req.Pool, hint: `Use --subnet ${subnet}, or omit --subnet.` }));
        }
      } else if (given === undefined && wanted === undefined && ctx.config.createNetworks !== false && hasControl(ctx)) {
        // No --subnet and no name: a new Weft network with a subnet from the swarm's default
        // address pools (as Docker's overlay without --subnet), named docker-<hex> since Docker
        // does not tell plugins the network's name; removed with the Docker network.
        const r = await call<{ Id: string }>(ctx, CONTROL, 'Network.Create', { Name: `docker-${randomBytes(4).toString('hex')}`, Driver: 'overlay', Attachable: true, Labels: { [WEFT_CREATED_LABEL]: 'true' } });
        w = await findWeft(ctx, r.Id);
        if (w === undefined || w.Subnets[0] === undefined) raise(errors.internal(ctx.plugin, `the Weft network made for a Docker network without --subnet (${r.Id}) cannot be found`));
        subnet = normaliseCidr(w.Subnets[0].Subnet);
        created = true;
      } else {
        if (given === undefined) {
          raise(errors.badRequest(ctx.plugin, wanted !== undefined ? `There is no Weft network "${wanted}" yet, and creating one needs a subnet` : 'Cannot choose a subnet: Docker does not tell the IPAM driver which network it is for', {
            path: 'Pool',
            hint: wanted !== undefined
              ? 'Add --subnet.'
              : `Give --subnet (of an existing Weft network, or of a new one), or --ipam-opt ${WEFT_NETWORK}=NAME of an existing Weft network (Docker passes -o ${WEFT_NETWORK} only after the pool is chosen).`,
          }));
        }
        if (!isV4(given)) raise(errors.unsupported(ctx.plugin, `Subnet ${given} is not IPv4`, { path: 'Pool', value: given }));
        subnet = given;
      }
      // Docker replays RequestPool only after a dockerd restart (and only if asked to); a pool
      // for a subnet that already backs a Docker network is that network's pool again.
      const bound = (await pools(ctx)).find((p) => p.subnet === subnet && p.network !== undefined);
      const id = `weft-${randomBytes(8).toString('hex')}`;
      const rec: PoolRec = {
        id,
        space: req.AddressSpace,
        subnet,
        aux: [],
        ...(w !== undefined ? { weft: { id: w.Id, name: w.Name } } : {}),
        ...(w === undefined && wanted !== undefined ? { wanted } : {}),
        ...(created ? { createdWeft: true } : {}),
        ...(bound?.network !== undefined ? { network: bound.network, gateway: bound.gateway ?? firstHost(subnet) } : {}),
      };
      await putJson(ctx.store, poolKey(id), rec);
      return { PoolID: id, Pool: subnet, Data: {} };
    }),

    // (requestPool6 below)
    ReleasePool: (req, ctx) => serial(ctx, async () => {
      // A Weft network made for this pool that no Docker network took (its create failed): remove it.
      const p = await getJson<PoolRec>(ctx.store, poolKey(req.PoolID));
      if (p?.createdWeft === true && p.network === undefined && p.weft !== undefined) await attempt(ctx, CONTROL, 'Network.Remove', { Network: p.weft.id });
      await ctx.store.delete(poolKey(req.PoolID));
      return {};
    }),

    RequestAddress: (req, ctx) => serial(ctx, async () => {
      const pool = await poolOf(ctx, req.PoolID);
      const opts = req.Options ?? {};
      const ip = req.Address ?? '';
      const len = prefixLen(pool.subnet);
      if (ip !== '' && !inSubnet(ip, pool.subnet)) {
        raise(errors.badRequest(ctx.plugin, `Address ${ip} is outside subnet ${pool.subnet}`, { path: 'Address', value: ip }));
      }
      if (opts[DockerOptions.requestAddressType] === DockerOptions.gatewayType) {
        let gw: string;
        if (pool.weft !== undefined) {
          const w = await findWeft(ctx, pool.weft.id);
          gw = subnetOf(w, pool)?.Gateway ?? '';
          if (gw === '') gw = firstHost(pool.subnet);
          if (ip !== '' && ip !== gw) {
            raise(errors.conflict(ctx.plugin, `The gateway of Weft network "${pool.weft.name}" is ${gw}, not ${ip}`, { path: 'Address', value: ip, hint: `Use --gateway ${gw}, or omit --gateway.` }));
          }
        } else gw = ip !== '' ? ip : (pool.gateway ?? firstHost(pool.subnet));
        pool.gateway = gw;
        await putJson(ctx.store, poolKey(pool.id), pool);
        return { Address: `${gw}/${len}`, Data: {} };
      }
      if (pool.network === undefined) {
        // Before CreateNetwork: an --aux-address. A new Weft network reserves it cluster-wide.
        if (ip === '') {
          raise(errors.badRequest(ctx.plugin, `Pool "${pool.id}" belongs to no network of driver "${name}"`, { value: pool.id, hint: `The "${name}" IPAM driver serves only networks created with -d ${name}.` }));
        }
        if (pool.weft !== undefined) {
          const w = await findWeft(ctx, pool.weft.id);
          const reserved = Object.values(subnetOf(w, pool)?.AuxiliaryAddresses ?? {}).map(bare);
          if (!reserved.includes(ip)) {
            raise(errors.badRequest(ctx.plugin, `--aux-address ${ip} is not reserved in Weft network "${pool.weft.name}"`, { path: 'Address', value: ip, hint: 'Reserve auxiliary addresses when the Weft network is created.' }));
          }
        }
        if (!pool.aux.includes(ip)) pool.aux.push(ip);
        await putJson(ctx.store, poolKey(pool.id), pool);
        return { Address: `${ip}/${len}`, Data: {} };
      }
      const { net, weft } = await ensureBound(ctx, await netOf(ctx, pool.network));
      const got = await allocate(ctx, net, weft, ip, pool.v6 === true ? 6 : 4);
      await putJson(ctx.store, addrKey(pool.id, got.address), { poolId: got.poolId } satisfies AddrRec);
      return { Address: got.address, Data: {} };
    }),

    ReleaseAddress: (req, ctx) => serial(ctx, async () => {
      const ip = bare(req.Address);
      const a = await getJson<AddrRec>(ctx.store, addrKey(req.PoolID, ip));
      if (a !== undefined) {
        await call(ctx, IPAM, 'IpamDriver.ReleaseAddress', { PoolID: a.poolId, Address: ip });
        await ctx.store.delete(addrKey(req.PoolID, ip));
        return {};
      }
      // The gateway and aux addresses are held by the network's instance, not per request.
      const pool = await getJson<PoolRec>(ctx.store, poolKey(req.PoolID));
      if (pool !== undefined && (pool.gateway === ip || pool.aux.includes(ip))) {
        if (pool.gateway === ip) delete pool.gateway;
        pool.aux = pool.aux.filter((x) => x !== ip);
        await putJson(ctx.store, poolKey(pool.id), pool);
        return {};
      }
      raise(errors.notFound(ctx.plugin, `Address ${ip} is not allocated in pool "${req.PoolID}"; nothing was released`, { path: 'Address', value: req.Address }));
    }),
  };
}
