/**
 * The Weft side of a Docker network: the control plane's networks (found by name, ID or subnet,
 * or created), the rules that make one usable by Docker, and this host's instance of it
 * (@weft/hostnet: every subnet's pool and gateway, the overlay network, addresses from blocks).
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { WeftOptions, DockerOptions, errors, putJson, raise, type Context, type WeftError, type ControlNetwork } from '@weft/kernel';
import { HostNetwork, type Instance } from '@weft/hostnet';
import { WEFT_NETWORK, firstHost, isV4, normaliseCidr } from './options.ts';
import type { DockerPluginConfig } from './config.ts';
import type { Deps } from './deps.ts';
import { currentInstance, netKey, type NetRec } from './records.ts';

/** A Weft (control plane) network as this plugin reads it: the kernel's control contract. */
export type WeftNetwork = ControlNetwork;

export interface WeftSide {
  weftNetworks(ctx: Context<DockerPluginConfig>): Promise<WeftNetwork[]>;
  findWeft(ctx: Context<DockerPluginConfig>, ref: string): Promise<WeftNetwork | undefined>;
  checkUsable(ctx: Context<DockerPluginConfig>, n: WeftNetwork): void;
  ensureBound(ctx: Context<DockerPluginConfig>, net: NetRec): Promise<{ net: NetRec; weft: WeftNetwork }>;
  noNameError(ctx: Context<DockerPluginConfig>): WeftError;
  teardown(ctx: Context<DockerPluginConfig>, net: NetRec): Promise<void>;
  allocate(ctx: Context<DockerPluginConfig>, net: NetRec, w: WeftNetwork, ip: string, family?: 4 | 6): Promise<{ address: string; poolId: string }>;
}

export function weftSide(d: Deps): WeftSide {
  const { name, OVERLAY, IPAM, CONTROL, host, call, attempt, hasControl } = d;
  async function weftNetworks(ctx: Context<DockerPluginConfig>): Promise<WeftNetwork[]> {
    if (!hasControl(ctx)) {
      raise(errors.unavailable(ctx.plugin, 'This agent has no control plane loaded, so Weft networks cannot be looked up', { hint: 'Load the control plugin and run "weft swarm init" or "weft swarm join".' }));
    }
    const r = await ctx.invoke(CONTROL, 'Network.List', {});
    if (isLeft(r)) {
      raise(errors.unavailable(ctx.plugin, `Cannot list Weft networks: ${r.left.message}`, { hint: 'Docker networks of driver "weft" need this node in a Weft swarm: run "weft swarm init" or "weft swarm join" first.' }));
    }
    return r.right;
  }

  async function findWeft(ctx: Context<DockerPluginConfig>, ref: string): Promise<WeftNetwork | undefined> {
    const all = await weftNetworks(ctx);
    return all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
  }

  function checkUsable(ctx: Context<DockerPluginConfig>, n: WeftNetwork): void {
    if (n.Driver !== 'overlay') {
      raise(errors.badRequest(ctx.plugin, `Weft network "${n.Name}" uses driver "${n.Driver}"; Docker networks of driver "${name}" map only to overlay networks`, { value: n.Name }));
    }
    if (!n.Attachable) {
      raise(errors.forbidden(ctx.plugin, `Weft network "${n.Name}" is not attachable, so Docker containers cannot join it`, { value: n.Name, hint: 'Create it with "weft network create --attachable", or let Docker create it.' }));
    }
    const s = n.Subnets[0];
    if (s === undefined || !isV4(s.Subnet)) {
      raise(errors.unsupported(ctx.plugin, `Weft network "${n.Name}" has no IPv4 subnet; Docker networks of driver "${name}" need one`, { value: n.Name }));
    }
  }

  /** Binds `net` to its Weft network (finding or creating it) and programs it on this host. */
  async function ensureBound(ctx: Context<DockerPluginConfig>, net: NetRec): Promise<{ net: NetRec; weft: WeftNetwork }> {
    if (net.weft !== undefined) {
      const w = await findWeft(ctx, net.weft.id);
      if (w === undefined) {
        raise(errors.notFound(ctx.plugin, `Weft network "${net.weft.name}" (${net.weft.id}) that Docker network ${net.id.slice(0, 12)} maps to no longer exists`, { hint: 'Remove the Docker network and create it again.' }));
      }
      await ensureInstance(ctx, net, w);
      return { net, weft: w };
    }
    let wanted = net.wanted;
    if (wanted === undefined && ctx.config.dockerHost !== undefined) {
      try {
        wanted = await host.networkName(ctx.config.dockerHost, net.id);
      } catch (e) {
        raise(errors.unavailable(ctx.plugin, `Cannot ask dockerd at ${ctx.config.dockerHost} for the name of network ${net.id.slice(0, 12)}: ${(e as Error).message}`));
      }
      if (wanted === undefined) {
        raise(errors.unavailable(ctx.plugin, `dockerd at ${ctx.config.dockerHost} does not know network ${net.id.slice(0, 12)} yet, so its Weft network cannot be chosen`, { hint: `Name it with -o ${WEFT_NETWORK}=NAME.` }));
      }
    }
    if (wanted === undefined) raise(noNameError(ctx));
    let w = await findWeft(ctx, wanted);
    let created = false;
    if (w === undefined) {
      if (ctx.config.createNetworks === false) {
        raise(errors.notFound(ctx.plugin, `There is no Weft network "${wanted}", and this agent is configured not to create one`, { value: wanted, hint: `Create it first: weft network create -d overlay --attachable --subnet ${net.subnet} ${wanted}` }));
      }
      const aux: Record<string, string> = {};
      net.aux.forEach((a, i) => (aux[`docker-aux-${i}`] = a));
      const req = {
        Name: wanted,
        Driver: 'overlay',
        Attachable: true,
        Internal: net.internal,
        Options: net.options,
        Labels: { [WeftOptions.dockerNetwork]: net.id },
        // --ipv6: the IPv6 subnet too (a dual-stack Weft network).
        ...(net.subnet6 !== undefined ? { EnableIPv6: true } : {}),
        IPAM: {
          Config: [
            { Subnet: net.subnet, Gateway: net.gateway, ...(Object.keys(aux).length > 0 ? { AuxiliaryAddresses: aux } : {}) },
            ...(net.subnet6 !== undefined ? [{ Subnet: net.subnet6, ...(net.gateway6 !== undefined ? { Gateway: net.gateway6 } : {}) }] : []),
          ],
        },
      };
      const r = await call<{ Id: string }>(ctx, CONTROL, 'Network.Create', req);
      created = true;
      w = await findWeft(ctx, r.Id);
      if (w === undefined) raise(errors.internal(ctx.plugin, `Weft network "${wanted}" was created (${r.Id}) but cannot be found`));
    } else {
      checkUsable(ctx, w);
      checkCompatible(ctx, net, w);
    }
    net.weft = { id: w.Id, name: w.Name };
    net.createdWeft = created || net.createdWeft;
    try {
      await ensureInstance(ctx, net, w);
    } catch (e) {
      if (created) await attempt(ctx, CONTROL, 'Network.Remove', { Network: w.Id });
      delete net.weft;
      net.createdWeft = false;
      throw e;
    }
    await putJson(ctx.store, netKey(net.id), net);
    return { net, weft: w };
  }

  function noNameError(ctx: Context<DockerPluginConfig>): WeftError {
    return errors.badRequest(ctx.plugin, 'Cannot tell which Weft network this Docker network is: Docker does not pass the network name to plugins', {
      hint: `Name it with -o ${WEFT_NETWORK}=NAME (or --ipam-opt ${WEFT_NETWORK}=NAME), give the --subnet of an existing Weft network, or start the agent with WEFT_DOCKER_HOST so it can ask dockerd.`,
    });
  }

  /** An existing Weft network must agree with what the Docker user asked for. */
  function checkCompatible(ctx: Context<DockerPluginConfig>, net: NetRec, w: WeftNetwork): void {
    const s = w.Subnets[0]!;
    if (normaliseCidr(s.Subnet) !== net.subnet) {
      raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has subnet ${s.Subnet}, not ${net.subnet}`, { value: net.subnet, hint: `Use --subnet ${s.Subnet} or omit --subnet together with --ipam-opt ${WEFT_NETWORK}=${w.Name}.` }));
    }
    if (net.subnet6 !== undefined) {
      const s6 = w.Subnets.find((x) => !isV4(x.Subnet));
      if (s6 === undefined || normaliseCidr(s6.Subnet) !== net.subnet6) {
        raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has ${s6 === undefined ? 'no IPv6 subnet' : `IPv6 subnet ${s6.Subnet}`}, not ${net.subnet6}`, { value: net.subnet6, hint: s6 === undefined ? 'Drop --ipv6, or map to a Weft network created with --ipv6.' : `Use --subnet ${s6.Subnet}.` }));
      }
    }
    const wantEncrypted = DockerOptions.encrypted in net.options;
    if (wantEncrypted && !w.Encrypted) {
      raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" exists and is not encrypted, but --opt encrypted was given`, { value: w.Name, hint: 'Drop --opt encrypted, or map to another Weft network.' }));
    }
    const mtu = net.options[DockerOptions.mtu];
    if (mtu !== undefined && w.Options[DockerOptions.mtu] !== undefined && w.Options[DockerOptions.mtu] !== mtu) {
      raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has MTU ${w.Options[DockerOptions.mtu]}, not ${mtu}`, { value: mtu }));
    }
  }

  // -------------------------------------------------------------------------------------------
  // This host's instance of a Weft network: IPAM pool, gateway, aux, overlay network

  const hostnet = (ctx: Context<DockerPluginConfig>) => new HostNetwork(ctx, { ipam: IPAM, control: CONTROL });

  /** Programs the Weft network on this host (@weft/hostnet), every subnet; the gateway Docker was told. */
  async function ensureInstance(ctx: Context<DockerPluginConfig>, net: NetRec, w: WeftNetwork): Promise<Instance> {
    if (net.instance !== undefined) return currentInstance(net.instance, w.Id, OVERLAY, w.Subnets[0]?.Subnet);
    // Docker's default gateway is the subnet's first host; the engine may hold it already on this
    // host (its sandboxes use the network too): then it is shared.
    const subnets = w.Subnets.map((s) => ({ ...s, Gateway: s.Gateway !== '' || !isV4(s.Subnet) ? s.Gateway : firstHost(s.Subnet) }));
    const inst = await hostnet(ctx).instantiate({ Id: w.Id, Name: w.Name, Scope: 'swarm', Options: w.Options, Internal: w.Internal, Encrypted: w.Encrypted, EnableIPv6: w.EnableIPv6, Subnets: subnets, VNIs: w.VNIs }, OVERLAY);
    net.instance = inst;
    await putJson(ctx.store, netKey(net.id), net);
    return inst;
  }

  async function teardown(ctx: Context<DockerPluginConfig>, net: NetRec): Promise<void> {
    if (net.instance === undefined || net.weft === undefined) return;
    await hostnet(ctx).teardown(currentInstance(net.instance, net.weft.id, OVERLAY), { releaseBlocks: hasControl(ctx) });
    delete net.instance;
  }

  /** An address from the blocks the manager granted this node, newest first (or a specific one). */
  async function allocate(ctx: Context<DockerPluginConfig>, net: NetRec, w: WeftNetwork, ip: string, family: 4 | 6 = 4): Promise<{ address: string; poolId: string }> {
    const inst = await ensureInstance(ctx, net, w);
    net.instance = inst;
    return hostnet(ctx).allocate(w, inst, ip, { blocks: true, save: () => putJson(ctx.store, netKey(net.id), net), family });
  }

  return { weftNetworks, findWeft, checkUsable, ensureBound, noNameError, teardown, allocate };
}
