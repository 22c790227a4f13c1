/**
 * The plugin's records in `ctx.store` (see plugin.ts), their keys, and the per-instance request
 * queue (Docker sends requests in parallel and each reads and writes several records).
 */
import { createContainerDns, type ContainerDns } from './container-dns.ts';
import { DEFAULT_DNS_ADDRESS } from './config.ts';
import {
  listJson,
  type Serial,
  createSerial,
  errors,
  getJson,
  raise,
  type Context,
  type Store,
} from '@weft/kernel';
import type { Instance } from '@weft/hostnet';
import { bare } from './options.ts';
import type { DockerPluginConfig } from './config.ts';
import type { Deps } from './deps.ts';

// ---------------------------------------------------------------------------------------------
// Records

export interface WeftRef {
  readonly id: string;
  readonly name: string;
}

export interface PoolRec {
  readonly id: string;
  readonly space: string;
  /** What Docker got as Pool. */
  readonly subnet: string;
  /** The Weft network, when it already existed (found by --subnet or --ipam-opt). */
  weft?: WeftRef;
  /** `--ipam-opt weft.network=NAME` of a network that does not exist yet. */
  wanted?: string;
  /** `weft` was created here for a Docker network without --subnet (removed with it). */
  createdWeft?: boolean;
  /** Gateway handed to Docker (bare IP). */
  gateway?: string;
  /** Aux addresses Docker reserved before CreateNetwork: name-less, bare IPs. */
  aux: string[];
  /** The Docker network it belongs to, once CreateNetwork bound it. */
  network?: string;
  /** An IPv6 pool (`--ipv6`: Docker's second RequestPool, `V6: true`). */
  v6?: true;
}

/** A host instance as this plugin stored it before @weft/hostnet (one pool): read and converted. */
export interface LegacyInstance {
  readonly space: string;
  readonly poolId: string;
  readonly gateway: string;
  readonly gatewayHeld: boolean;
  readonly aux: string[];
  readonly overlayOwned: boolean;
  blocks: { block: string; poolId: string }[];
}

/** This host's instance of the Weft network (@weft/hostnet), in the form stored before it if so. */
export function currentInstance(raw: Instance | LegacyInstance, netId: string, overlay: string, subnet = ''): Instance {
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

export interface NetRec {
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
  /** `--ipv6`: the IPv6 subnet and its gateway (bare IP), from CreateNetwork's IPv6Data. */
  subnet6?: string;
  gateway6?: string;
}

export interface EpRec {
  readonly network: string;
  readonly id: string;
  readonly address: string;
  /** The IPv6 address (CIDR) on a network with `--ipv6`. */
  readonly address6?: string;
  attached: boolean;
  joined: boolean;
  mac?: string;
  srcName?: string;
  sandboxKey?: string;
  /** Re-attached inside its container after a restart: the overlay now knows where it lives. */
  inSandbox?: boolean;
  /** PID of the DNS relay process an earlier version ran inside the container (stopped on upgrade). */
  dnsPid?: number;
  /** The container's name, published with its Weft endpoint record (DNS on other hosts). */
  name?: string;
}

export interface AddrRec {
  readonly poolId: string;
}

export const poolKey = (id: string) => `pools/${id}`;
export const netKey = (id: string) => `networks/${id}`;
export const epKey = (n: string, e: string) => `endpoints/${n}/${e}`;
export const addrKey = (pool: string, ip: string) => `addresses/${pool}/${bare(ip)}`;

// ---------------------------------------------------------------------------------------------

const queues = new WeakMap<Store, Serial>();
/** The containers' DNS responder of each plugin instance (container-dns.ts), once one is needed. */
export const containerDnsOf = new WeakMap<Store, ContainerDns>();
const containerDnsStarting = new WeakMap<Store, Promise<ContainerDns | undefined>>();

/**
 * The responder, started on first need (a container joined): an agent without Docker containers
 * never starts its thread. Undefined when off (`containerDns: false`) or without a `dns` service.
 */
export function ensureContainerDns(ctx: Context<DockerPluginConfig>): Promise<ContainerDns | undefined> {
  const have = containerDnsOf.get(ctx.store);
  if (have !== undefined) return Promise.resolve(have);
  if (ctx.config.containerDns === false || !ctx.services.has('dns') || stopped.has(ctx.store)) return Promise.resolve(undefined);
  let p = containerDnsStarting.get(ctx.store);
  if (p === undefined) {
    const dns = ctx.services.get('dns');
    const address = ctx.config.dnsAddress ?? DEFAULT_DNS_ADDRESS;
    p = createContainerDns({ address, answer: (network, query) => dns.resolve(query, network, query.length), log: ctx.log }).then(
      (c) => {
        containerDnsOf.set(ctx.store, c);
        ctx.log.info('answering DNS inside containers (run them with --dns ADDRESS)', { address });
        return c;
      },
      (e) => {
        ctx.log.warn('docker: cannot answer DNS inside containers', { error: String((e as Error)?.message ?? e) });
        containerDnsStarting.delete(ctx.store);
        return undefined;
      },
    );
    containerDnsStarting.set(ctx.store, p);
  }
  return p;
}

/** Stops the responder, if one was started. */
export async function closeContainerDns(store: Store): Promise<void> {
  const c = (await containerDnsStarting.get(store)) ?? containerDnsOf.get(store);
  containerDnsStarting.delete(store);
  containerDnsOf.delete(store);
  await c?.close();
}
export const stopped = new WeakSet<Store>();
export const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
/** Runs `fn` after every earlier request of this plugin instance has finished. */
export function serial<T>(ctx: Context<DockerPluginConfig>, fn: () => Promise<T>): Promise<T> {
  let q = queues.get(ctx.store);
  if (q === undefined) queues.set(ctx.store, (q = createSerial()));
  return q(fn);
}

export interface RecordAccess {
  poolOf(ctx: Context<DockerPluginConfig>, id: string): Promise<PoolRec>;
  netOf(ctx: Context<DockerPluginConfig>, id: string): Promise<NetRec>;
  epOf(ctx: Context<DockerPluginConfig>, n: string, e: string): Promise<EpRec>;
  pools(ctx: Context<DockerPluginConfig>): Promise<PoolRec[]>;
  weftOf(ctx: Context<DockerPluginConfig>, net: NetRec): WeftRef;
}

export function recordAccess(d: Deps): RecordAccess {
  const { name } = d;
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
    for (const [, p] of await listJson<PoolRec>(ctx.store, 'pools/')) {
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  const weftOf = (ctx: Context<DockerPluginConfig>, net: NetRec): WeftRef => {
    if (net.weft === undefined) raise(errors.unavailable(ctx.plugin, `Docker network ${net.id.slice(0, 12)} is not mapped to a Weft network yet`, { hint: 'Start a container on it first (an address request maps it).' }));
    return net.weft;
  };

  return { poolOf, netOf, epOf, pools, weftOf };
}
