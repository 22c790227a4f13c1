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
import { randomBytes } from 'node:crypto';
import * as t from 'io-ts';
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import {
  DockerOptions,
  ENDPOINTS_TABLE,
  decodeEndpointRecord,
  definePlugin,
  encodeEndpointRecord,
  errors,
  formatError,
  getJson,
  putJson,
  raise,
  WeftException,
  type Context,
  type PluginDefinition,
  type Store,
  type WeftError,
} from '@weft/kernel';
import { HostNetwork, type Instance } from '@weft/hostnet';
import { linuxDockerHost, type DockerHost } from './host.ts';

/** What the bridges need from the `dns` service (@weft/dns), without depending on its package. */
interface Resolver {
  resolve(query: Uint8Array, network: string, len?: number): Promise<Uint8Array | undefined>;
}

export const DEFAULT_DNS_ADDRESS = '127.0.0.53';
import { WEFT_NETWORK, bare, firstHost, inSubnet, isV4, mapCreateOptions, normaliseCidr, prefixLen } from './options.ts';

export const DOCKER_PLUGIN_VERSION = '0.1.0';

export const DockerPluginConfig = t.partial({
  /** This node's name (recorded with control-plane attachments). */
  node: t.string,
  /**
   * dockerd's API (`unix:///run/docker.sock`). When set, a Docker network created without a
   * Weft network name maps to the Weft network of the Docker network's own name, looked up here.
   */
  dockerHost: t.string,
  /** Create the Weft network through the control plane when none matches (default true). */
  createNetworks: t.boolean,
  /**
   * Unix socket on which the agent answers DNS for the bridges it runs inside containers. Unset:
   * no bridges. With it, Docker's embedded DNS forwards names it does not know to Weft's resolver
   * when a container runs with `--dns <dnsAddress>`.
   */
  dnsSocket: t.string,
  /** Loopback address inside containers the bridge answers on (default 127.0.0.53). */
  dnsAddress: t.string,
});
export type DockerPluginConfig = t.TypeOf<typeof DockerPluginConfig>;

export interface DockerPluginOptions {
  /** Kernel plugin name; it is also the driver name Docker users type. Default `weft`. */
  readonly name?: string;
  readonly overlay?: string;
  readonly ipam?: string;
  readonly control?: string;
  readonly host?: DockerHost;
}

/** Docker's sandbox name in control-plane attachments: `docker-<12 hex of the endpoint>`. */
export const attachmentName = (endpointId: string): string => `docker-${endpointId.slice(0, 12)}`;

// ---------------------------------------------------------------------------------------------
// Records

interface WeftRef {
  readonly id: string;
  readonly name: string;
}

interface PoolRec {
  readonly id: string;
  readonly space: string;
  /** What Docker got as Pool. */
  readonly subnet: string;
  /** The Weft network, when it already existed (found by --subnet or --ipam-opt). */
  weft?: WeftRef;
  /** `--ipam-opt weft.network=NAME` of a network that does not exist yet. */
  wanted?: string;
  /** Gateway handed to Docker (bare IP). */
  gateway?: string;
  /** Aux addresses Docker reserved before CreateNetwork: name-less, bare IPs. */
  aux: string[];
  /** The Docker network it belongs to, once CreateNetwork bound it. */
  network?: string;
}

/** A host instance as this plugin stored it before @weft/hostnet (one pool): read and converted. */
interface LegacyInstance {
  readonly space: string;
  readonly poolId: string;
  readonly gateway: string;
  readonly gatewayHeld: boolean;
  readonly aux: string[];
  readonly overlayOwned: boolean;
  blocks: { block: string; poolId: string }[];
}

/** This host's instance of the Weft network (@weft/hostnet), in the form stored before it if so. */
function currentInstance(raw: Instance | LegacyInstance, netId: string, overlay: string, subnet = ''): Instance {
  if ('pools' in raw) return raw;
  const prefixLen = Number(raw.gateway.split('/')[1] ?? '32');
  return {
    netId,
    driver: overlay,
    space: raw.space,
    pools: [{ subnet, prefixLen, poolId: raw.poolId, gatewayCidr: raw.gateway, gatewayHeld: raw.gatewayHeld, aux: raw.aux, blocks: raw.blocks }],
    driverOwned: raw.overlayOwned,
  };
}

interface NetRec {
  readonly id: string;
  readonly subnet: string;
  readonly gateway: string; // bare IP
  readonly options: Record<string, string>;
  readonly internal: boolean;
  /** --aux-address values (bare IPs), reserved in a Weft network this plugin creates. */
  readonly aux: string[];
  /** Weft network name from -o/--ipam-opt, or found by subnet. */
  wanted?: string;
  weft?: WeftRef;
  /** True when this plugin created the Weft network (it removes it again with the Docker network). */
  createdWeft: boolean;
  instance?: Instance | LegacyInstance;
}

interface EpRec {
  readonly network: string;
  readonly id: string;
  readonly address: string;
  attached: boolean;
  joined: boolean;
  mac?: string;
  srcName?: string;
  sandboxKey?: string;
  /** Re-attached inside its container after a restart: the overlay now knows where it lives. */
  inSandbox?: boolean;
  /** PID of the DNS bridge inside the container. */
  dnsPid?: number;
  /** The container's name, published with its Weft endpoint record (DNS on other hosts). */
  name?: string;
}

interface AddrRec {
  readonly poolId: string;
}

/** The subset of control's NetworkRecord this plugin reads. */
interface WeftNetwork {
  readonly Id: string;
  readonly Name: string;
  readonly Driver: string;
  readonly Options: Record<string, string>;
  readonly Attachable: boolean;
  readonly Internal: boolean;
  readonly Encrypted: boolean;
  readonly Subnets: readonly { readonly Subnet: string; readonly Gateway: string; readonly AuxiliaryAddresses?: Record<string, string> }[];
  readonly VNIs: readonly number[];
}

const poolKey = (id: string) => `pools/${id}`;
const netKey = (id: string) => `networks/${id}`;
const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;
const addrKey = (pool: string, ip: string) => `addresses/${pool}/${bare(ip)}`;

// ---------------------------------------------------------------------------------------------

const queues = new WeakMap<Store, Promise<unknown>>();
const dnsServers = new WeakMap<Store, { close(): Promise<void> }>();
const stopped = new WeakSet<Store>();
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
/** Runs `fn` after every earlier request of this plugin instance has finished. */
function serial<T>(ctx: Context<DockerPluginConfig>, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(ctx.store) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  queues.set(ctx.store, run.catch(() => undefined));
  return run;
}

export function dockerPlugin(opts: DockerPluginOptions = {}): PluginDefinition<DockerPluginConfig> {
  const name = opts.name ?? 'weft';
  const OVERLAY = opts.overlay ?? 'overlay';
  const IPAM = opts.ipam ?? 'ipam';
  const CONTROL = opts.control ?? 'control';
  const host = opts.host ?? linuxDockerHost();

  async function call<T>(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<T> {
    const r: Either<WeftError, unknown> = await ctx.invoke(plugin, method, input);
    if (isLeft(r)) raise(r.left);
    return r.right as T;
  }

  async function attempt(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<void> {
    const r = await ctx.invoke(plugin, method, input);
    if (isLeft(r)) ctx.log.warn(`${method} failed during cleanup`, { error: formatError(r.left) });
  }

  // -------------------------------------------------------------------------------------------
  // The Weft side: control-plane networks

  const hasControl = (ctx: Context<DockerPluginConfig>) => ctx.services.has('control');

  async function weftNetworks(ctx: Context<DockerPluginConfig>): Promise<WeftNetwork[]> {
    if (!hasControl(ctx)) {
      raise(errors.unavailable(ctx.plugin, 'This agent has no control plane loaded, so Weft networks cannot be looked up', { hint: 'Load the control plugin and run "weft swarm init" or "weft swarm join".' }));
    }
    const r = await ctx.invoke(CONTROL, 'Network.List', {});
    if (isLeft(r)) {
      raise(errors.unavailable(ctx.plugin, `Cannot list Weft networks: ${r.left.message}`, { hint: 'Docker networks of driver "weft" need this node in a Weft swarm: run "weft swarm init" or "weft swarm join" first.' }));
    }
    return r.right as WeftNetwork[];
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
        Labels: { 'weft.docker.network': net.id },
        IPAM: { Config: [{ Subnet: net.subnet, Gateway: net.gateway, ...(Object.keys(aux).length > 0 ? { AuxiliaryAddresses: aux } : {}) }] },
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
    net.createdWeft = created;
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
    const subnets = w.Subnets.map((s) => ({ ...s, Gateway: s.Gateway !== '' ? s.Gateway : firstHost(s.Subnet) }));
    const inst = await hostnet(ctx).instantiate({ Id: w.Id, Name: w.Name, Scope: 'swarm', Options: w.Options, Internal: w.Internal, Encrypted: w.Encrypted, EnableIPv6: false, Subnets: subnets, VNIs: w.VNIs }, OVERLAY);
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
  async function allocate(ctx: Context<DockerPluginConfig>, net: NetRec, w: WeftNetwork, ip: string): Promise<{ address: string; poolId: string }> {
    const inst = await ensureInstance(ctx, net, w);
    net.instance = inst;
    return hostnet(ctx).allocate(w, inst, ip, { blocks: true, save: () => putJson(ctx.store, netKey(net.id), net) });
  }

  // -------------------------------------------------------------------------------------------
  // Record access

  async function poolOf(ctx: Context<DockerPluginConfig>, id: string): Promise<PoolRec> {
    const p = await getJson<PoolRec>(ctx.store, poolKey(id));
    if (p === undefined) raise(errors.notFound(ctx.plugin, `Pool "${id}" is not known to this plugin`, { value: id, hint: 'Remove the Docker network and create it again.' }));
    return p;
  }
  async function netOf(ctx: Context<DockerPluginConfig>, id: string): Promise<NetRec> {
    const n = await getJson<NetRec>(ctx.store, netKey(id));
    if (n === undefined) raise(errors.notFound(ctx.plugin, `Network "${id}" not found`, { value: id, hint: `Create it with "docker network create -d ${name} --ipam-driver ${name} ...".` }));
    return n;
  }
  async function epOf(ctx: Context<DockerPluginConfig>, n: string, e: string): Promise<EpRec> {
    const ep = await getJson<EpRec>(ctx.store, epKey(n, e));
    if (ep === undefined) raise(errors.notFound(ctx.plugin, `Endpoint "${e}" not found in network "${n}"`, { value: e }));
    return ep;
  }
  async function pools(ctx: Context<DockerPluginConfig>): Promise<PoolRec[]> {
    const out: PoolRec[] = [];
    for (const k of await ctx.store.keys('pools/')) {
      const p = await getJson<PoolRec>(ctx.store, k);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  const weftOf = (ctx: Context<DockerPluginConfig>, net: NetRec): WeftRef => {
    if (net.weft === undefined) raise(errors.unavailable(ctx.plugin, `Docker network ${net.id.slice(0, 12)} is not mapped to a Weft network yet`, { hint: 'Start a container on it first (an address request maps it).' }));
    return net.weft;
  };

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
      IpamDriver: {
        GetCapabilities: () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
        GetDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'weft-local', GlobalDefaultAddressSpace: 'weft-global' }),

        RequestPool: (req, ctx) => serial(ctx, async () => {
          if (req.V6 === true) {
            raise(errors.unsupported(ctx.plugin, 'IPv6 on Docker networks of driver "weft" is not supported yet', { path: 'V6', hint: 'Create the network without --ipv6.' }));
          }
          if ((req.SubPool ?? '') !== '') {
            raise(errors.unsupported(ctx.plugin, `--ip-range ${req.SubPool} is not supported: Weft hands each host address blocks of the whole subnet`, { path: 'SubPool', value: req.SubPool }));
          }
          const opts = req.Options ?? {};
          const wantedRaw = opts[WEFT_NETWORK];
          const wanted = wantedRaw !== undefined && wantedRaw.trim() !== '' ? wantedRaw.trim() : undefined;
          const given = (req.Pool ?? '') !== '' ? normaliseCidr(req.Pool!) : undefined;
          let w: WeftNetwork | undefined;
          if (wanted !== undefined) w = await findWeft(ctx, wanted);
          else if (given !== undefined) w = (await weftNetworks(ctx)).find((n) => n.Subnets.some((s) => normaliseCidr(s.Subnet) === given));
          let subnet: string;
          if (w !== undefined) {
            checkUsable(ctx, w);
            subnet = normaliseCidr(w.Subnets[0]!.Subnet);
            if (given !== undefined && given !== subnet) {
              raise(errors.conflict(ctx.plugin, `Weft network "${w.Name}" has subnet ${subnet}, not ${given}`, { path: 'Pool', value: req.Pool, hint: `Use --subnet ${subnet}, or omit --subnet.` }));
            }
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
            ...(bound?.network !== undefined ? { network: bound.network, gateway: bound.gateway ?? firstHost(subnet) } : {}),
          };
          await putJson(ctx.store, poolKey(id), rec);
          return { PoolID: id, Pool: subnet, Data: {} };
        }),

        ReleasePool: (req, ctx) => serial(ctx, async () => {
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
              gw = w?.Subnets[0]?.Gateway ?? '';
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
              const reserved = Object.values(w?.Subnets[0]?.AuxiliaryAddresses ?? {}).map(bare);
              if (!reserved.includes(ip)) {
                raise(errors.badRequest(ctx.plugin, `--aux-address ${ip} is not reserved in Weft network "${pool.weft.name}"`, { path: 'Address', value: ip, hint: 'Reserve auxiliary addresses when the Weft network is created.' }));
              }
            }
            if (!pool.aux.includes(ip)) pool.aux.push(ip);
            await putJson(ctx.store, poolKey(pool.id), pool);
            return { Address: `${ip}/${len}`, Data: {} };
          }
          const { net, weft } = await ensureBound(ctx, await netOf(ctx, pool.network));
          const got = await allocate(ctx, net, weft, ip);
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
      },

      NetworkDriver: {
        GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'global' }),

        CreateNetwork: (req, ctx) => serial(ctx, async () => {
          if ((await ctx.store.get(netKey(req.NetworkID))) !== undefined) {
            raise(errors.conflict(ctx.plugin, `Network "${req.NetworkID}" already exists`, { value: req.NetworkID }));
          }
          if ((req.IPv6Data ?? []).length > 0) raise(errors.unsupported(ctx.plugin, 'IPv6 on Docker networks of driver "weft" is not supported yet', { path: 'IPv6Data' }));
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
            IPv6Data: [],
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
            createdWeft: false,
            ...(wanted !== undefined ? { wanted } : {}),
          };
          if (wanted === undefined && ctx.config.dockerHost === undefined) raise(noNameError(ctx));
          if (wanted !== undefined) await ensureBound(ctx, net);
          // else: dockerd stores the network only after this call returns; its name is looked up
          // when the first container asks for an address.
          await putJson(ctx.store, netKey(net.id), net);
          pool.network = net.id;
          await putJson(ctx.store, poolKey(pool.id), pool);
          return {};
        }),

        DeleteNetwork: (req, ctx) => serial(ctx, async () => {
          const net = await getJson<NetRec>(ctx.store, netKey(req.NetworkID));
          if (net === undefined) return {};
          for (const k of await ctx.store.keys(`endpoints/${net.id}/`)) {
            const ep = await getJson<EpRec>(ctx.store, k);
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
          if ((req.Interface?.AddressIPv6 ?? '') !== '') raise(errors.unsupported(ctx.plugin, 'IPv6 endpoints are not supported yet', { path: 'Interface.AddressIPv6' }));
          const ep: EpRec = { network: net.id, id: req.EndpointID, address, attached: false, joined: false };
          if (hasControl(ctx)) {
            await call(ctx, CONTROL, 'Network.Attach', { Network: weft.Id, Sandbox: attachmentName(ep.id) });
            ep.attached = true;
          }
          // Persist first: a crash from here on leaves a record DeleteEndpoint can clean up.
          await putJson(ctx.store, epKey(net.id, ep.id), ep);
          const r = await ctx.invoke(OVERLAY, 'NetworkDriver.CreateEndpoint', {
            NetworkID: weft.Id,
            EndpointID: ep.id,
            Interface: { Address: address, AddressIPv6: '', MacAddress: req.Interface?.MacAddress ?? '' },
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
          return { Value: { ...r.Value, 'weft.network': w.name, 'weft.network.id': w.id } };
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
          if (ctx.config.dnsSocket !== undefined && ctx.services.has('dns') && ep.dnsPid === undefined) {
            const pid = host.startDnsBridge({ sandboxKey: req.SandboxKey, address: ctx.config.dnsAddress ?? DEFAULT_DNS_ADDRESS, socket: ctx.config.dnsSocket, network: w.id });
            if (pid !== undefined) ep.dnsPid = pid;
          }
          await putJson(ctx.store, epKey(ep.network, ep.id), ep);
          if (ctx.config.dockerHost !== undefined) void publishName(ctx, ep.network, ep.id, ctx.config.dockerHost);
          return { ...r, ...(r.Gateway !== undefined ? { Gateway: bare(r.Gateway) } : {}) };
        }),

        Leave: (req, ctx) => serial(ctx, async () => {
          const ep = await epOf(ctx, req.NetworkID, req.EndpointID);
          const w = weftOf(ctx, await netOf(ctx, req.NetworkID));
          await call(ctx, OVERLAY, 'NetworkDriver.Leave', { NetworkID: w.id, EndpointID: ep.id });
          ep.joined = false;
          stopBridge(ep);
          await putJson(ctx.store, epKey(ep.network, ep.id), ep);
          return {};
        }),

        ProgramExternalConnectivity: () => ({}),
        RevokeExternalConnectivity: () => ({}),
        DiscoverNew: () => ({}),
        DiscoverDelete: () => ({}),
      },
    },
    start: async (ctx) => {
      stopped.delete(ctx.store);
      await reattach(ctx);
      for (const k of await ctx.store.keys('endpoints/')) {
        const ep = await getJson<EpRec>(ctx.store, k);
        if (ep?.joined === true) await nameRecord(ctx, ep);
      }
      const sock = ctx.config.dnsSocket;
      if (sock !== undefined && ctx.services.has('dns')) {
        const dns = ctx.services.get('dns') as Resolver;
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

  function stopBridge(ep: EpRec): void {
    if (ep.dnsPid !== undefined && ep.sandboxKey !== undefined) host.stopDnsBridge(ep.dnsPid, ep.sandboxKey);
    delete ep.dnsPid;
  }

  /**
   * After an agent restart the data path is empty. The overlay re-programs its endpoints, but a
   * Docker endpoint's TAP is no longer where the overlay created it: Docker moved it into the
   * container and renamed it. Find it there by MAC and hand it to the overlay as a sandbox
   * interface (Leave, then Join with weft.sandbox.move), which re-opens the same device, so the
   * running container keeps its eth0, address and routes and traffic resumes.
   */
  async function reattach(ctx: Context<DockerPluginConfig>): Promise<void> {
    for (const k of await ctx.store.keys('endpoints/')) {
      const ep = await getJson<EpRec>(ctx.store, k);
      if (ep === undefined || !ep.joined || ep.inSandbox === true || ep.sandboxKey === undefined || ep.mac === undefined) continue;
      const net = await getJson<NetRec>(ctx.store, netKey(ep.network));
      if (net?.weft === undefined) continue;
      const inner = host.linkByMac(ep.sandboxKey, ep.mac);
      if (inner === undefined) {
        ctx.log.warn('a joined Docker endpoint has no interface in its container any more', { endpoint: ep.id, sandbox: ep.sandboxKey });
        continue;
      }
      try {
        await call(ctx, OVERLAY, 'NetworkDriver.Leave', { NetworkID: net.weft.id, EndpointID: ep.id });
        await call(ctx, OVERLAY, 'NetworkDriver.Join', { NetworkID: net.weft.id, EndpointID: ep.id, SandboxKey: ep.sandboxKey, Options: { 'weft.sandbox.move': true, 'weft.sandbox.ifname': inner } });
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
    stopBridge(ep);
    await ctx.store.delete(epKey(net.id, ep.id));
  }
}

