/**
 * The `ipam` kernel plugin: Docker's IpamDriver contract over IpamState, plus `Ipam.Utilisation`.
 *
 * Handlers keep no state of their own: the state is loaded from `ctx.store` on first use and
 * cached per store (a WeakMap), and every change is written back before the call returns.
 * Docker sends requests in parallel, so calls are serialised per store: the bitmap and the
 * store then never disagree about order, and a failed write drops the cache so the next call
 * reloads what the store really holds.
 */
import * as t from 'io-ts';
import { definePlugin, errors, fromUnknown, KernelCodes, method, raise, type Context, type PluginDefinition, type Store } from '@weft/kernel';
import type { Prefix } from './addr.ts';
import {
  DEFAULT_GLOBAL_POOLS,
  DEFAULT_GLOBAL_V6_POOLS,
  DEFAULT_LOCAL_POOLS,
  DEFAULT_LOCAL_V6_POOLS,
  IpamConfig,
  parseRoutes,
  resolvePools,
  type PredefinedPool,
  type ResolvedPools,
} from './pools.ts';
import { IpamCodes, IpamState, type IpamStateOptions } from './state.ts';

export const IPAM_PLUGIN_VERSION = '0.1.0';

export interface IpamPluginOptions {
  /** Plugin (and driver) name; the agent serves it to Docker as `weft`. Default `ipam`. */
  readonly name?: string;
  /**
   * Destinations of the host's routes (`ip route` output lines or prefixes). Called when a
   * predefined pool is chosen; the allocator itself does no I/O. Default: no routes.
   */
  readonly hostRoutes?: () => readonly string[];
  /** Defaults for the configuration; the loaded config overrides them field by field. */
  readonly defaults?: IpamConfig;
}

const Count = t.string;
const SubPoolUsage = t.intersection([
  t.type({ PoolID: t.string, SubPool: t.string, RefCount: t.number, Size: Count, Used: Count, Free: Count }),
  t.partial({ Network: t.string }),
]);
export const PoolUsageCodec = t.intersection([
  t.type({
    PoolID: t.string,
    AddressSpace: t.string,
    Pool: t.string,
    V6: t.boolean,
    RefCount: t.number,
    Size: Count,
    Reserved: Count,
    Used: Count,
    Free: Count,
    SubPools: t.array(SubPoolUsage),
  }),
  t.partial({ Network: t.string }),
]);
export const UtilisationRequest = t.partial({ PoolID: t.string });
export const UtilisationResponse = t.type({ Pools: t.array(PoolUsageCodec) });
export type UtilisationResponse = t.TypeOf<typeof UtilisationResponse>;

/** `Ipam.Utilisation`: used/total per pool and per sub-range, for `weft network inspect`/`ls`. */
export const IpamMethods = {
  Utilisation: method('Ipam', 'Utilisation', UtilisationRequest, UtilisationResponse),
} as const;

interface Cached {
  state: Promise<IpamState> | undefined;
  queue: Promise<unknown>;
}

/** Builds the state options from the config; a bad pool list is a load-time BadRequest. */
export function stateOptions(plugin: string, cfg: IpamConfig, hostRoutes: () => readonly string[]): IpamStateOptions {
  const pools = (list: readonly PredefinedPool[] | undefined, dflt: readonly PredefinedPool[], fam: 4 | 6, what: string) => {
    const r = resolvePools(list ?? dflt, fam, what);
    if (!r.ok) raise(errors.badRequest(plugin, `Invalid configuration: ${r.message}`, { code: KernelCodes.badConfig, path: what }));
    return r.pools;
  };
  const mask = cfg.defaultAddrPoolMaskLength ?? 24;
  const globalV4 = cfg.defaultAddrPool !== undefined ? cfg.defaultAddrPool.map((base) => ({ base, size: mask })) : cfg.globalPools;
  const local: ResolvedPools = { v4: pools(cfg.localPools, DEFAULT_LOCAL_POOLS, 4, 'localPools'), v6: pools(cfg.localV6Pools, DEFAULT_LOCAL_V6_POOLS, 6, 'localV6Pools') };
  const global: ResolvedPools = {
    v4: pools(globalV4, DEFAULT_GLOBAL_POOLS, 4, cfg.defaultAddrPool !== undefined ? 'defaultAddrPool' : 'globalPools'),
    v6: pools(cfg.globalV6Pools, DEFAULT_GLOBAL_V6_POOLS, 6, 'globalV6Pools'),
  };
  return {
    plugin,
    localSpace: cfg.localAddressSpace ?? 'LocalDefault',
    globalSpace: cfg.globalAddressSpace ?? 'GlobalDefault',
    local,
    global,
    hostRoutes: (): readonly Prefix[] => parseRoutes(hostRoutes()),
  };
}

export function ipamPlugin(options: IpamPluginOptions = {}): PluginDefinition<IpamConfig> {
  const name = options.name ?? 'ipam';
  const hostRoutes = options.hostRoutes ?? (() => []);
  const cache = new WeakMap<Store, Cached>();

  const cached = (ctx: Context<IpamConfig>): Cached => {
    let c = cache.get(ctx.store);
    if (c === undefined) cache.set(ctx.store, (c = { state: undefined, queue: Promise.resolve() }));
    return c;
  };

  /**
   * Runs `fn` on the loaded state, serialised per store, and persists what it changed. The next
   * call starts once this one's writes are issued (the store applies them in call order), not once
   * they are durable, so concurrent requests share the store's flushes; each caller is answered
   * only after its own writes are durable.
   */
  function withState<O>(ctx: Context<IpamConfig>, fn: (s: IpamState) => O): Promise<O> {
    const c = cached(ctx);
    const run = async (): Promise<{ out: O; durable: Promise<void> }> => {
      if (c.state === undefined) {
        const cfg = { ...options.defaults, ...ctx.config };
        c.state = IpamState.load(ctx.store, stateOptions(ctx.plugin, cfg, hostRoutes));
      }
      const loading = c.state;
      let st: IpamState;
      try {
        st = await loading;
      } catch (e) {
        c.state = undefined; // report the damage on every call, never reset it
        throw e;
      }
      let out: O;
      try {
        out = fn(st);
      } catch (e) {
        st.discardPending(); // rules are checked before any change, so nothing happened
        throw e;
      }
      const durable = st.flush(ctx.store).catch((e: unknown) => {
        if (c.state === loading) c.state = undefined;
        const cause = fromUnknown(ctx.plugin, e);
        raise(errors.unavailable(ctx.plugin, `Could not persist IPAM state: ${cause.message}`, { code: IpamCodes.storeFailed, hint: 'The change was not acknowledged; retry once the store is writable.' }));
      });
      return { out, durable };
    };
    const p = c.queue.then(run, run);
    c.queue = p.catch(() => undefined);
    return p.then(async ({ out, durable }) => {
      await durable;
      return out;
    });
  }

  return definePlugin<IpamConfig>({
    manifest: {
      name,
      version: IPAM_PLUGIN_VERSION,
      kernel: '^0.1.0',
      provides: ['IpamDriver', 'Ipam'],
      description: 'Docker-compatible IPAM: predefined and explicit pools, bitmap allocation, persisted state',
      config: IpamConfig,
    },
    methods: [IpamMethods.Utilisation],
    handlers: {
      IpamDriver: {
        GetCapabilities: () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
        GetDefaultAddressSpaces: (_i, ctx) => ({
          LocalDefaultAddressSpace: ctx.config.localAddressSpace ?? options.defaults?.localAddressSpace ?? 'LocalDefault',
          GlobalDefaultAddressSpace: ctx.config.globalAddressSpace ?? options.defaults?.globalAddressSpace ?? 'GlobalDefault',
        }),
        RequestPool: (req, ctx) => withState(ctx, (s) => s.requestPool(req)),
        ReleasePool: (req, ctx) => withState(ctx, (s) => (s.releasePool(req.PoolID), {})),
        RequestAddress: (req, ctx) => withState(ctx, (s) => s.requestAddress(req)),
        ReleaseAddress: (req, ctx) => withState(ctx, (s) => (s.releaseAddress(req), {})),
      },
      Ipam: {
        Utilisation: (req: { PoolID?: string }, ctx: Context<IpamConfig>) => withState(ctx, (s) => ({ Pools: s.usage(req.PoolID) })),
      },
    },
  });
}
