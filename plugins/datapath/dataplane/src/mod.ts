/**
 * @weft/dataplane — the `datapath` drivers use, when a host has two: it picks, per network, the
 * kernel's vxlan (`datapath.kernel`, @weft/kernel-vxlan) or Weft's userspace switch
 * (`datapath.userspace`, @weft/vxlan) and sends every call about that network to the one it
 * picked. The choice is `chooseDataPlane` below, the one place that decides it:
 *
 *   network asks   encrypted?   → data plane
 *   kernel         no           → kernel (refused with the reason when this host's kernel cannot)
 *   kernel         yes          → refused: the kernel path has no encryption here
 *   userspace      any          → userspace
 *   auto           yes          → userspace (the only path that encrypts)
 *   auto           no           → kernel when loaded and usable, else userspace; except local-only
 *                                 networks (VNI 0, the bridge driver), which stay on userspace
 *
 * `auto` is what a network without `--opt weft.dataplane` asks for; the agent's
 * `--data-plane` says what `auto` means on one host (`userspace` forces it there). A choice is
 * kept in the plugin's store, so a network stays on its path across agent restarts.
 */
import * as t from 'io-ts';
import {
  definePlugin, errors, getJson, putJson, raise, type Context, type Counters, type DataPath, type DataPathNetwork, type DataPlane, type DataPlaneChoice,
  type PluginDefinition, type WeftError,
} from '@weft/kernel';

const P = 'dataplane';

export const DataPlaneCodes = {
  kernelEncrypted: 'WEFT_DATAPLANE_KERNEL_ENCRYPTED',
  unavailable: 'WEFT_DATAPLANE_UNAVAILABLE',
  badChoice: 'WEFT_DATAPLANE_BAD_CHOICE',
  noNetwork: 'WEFT_DATAPLANE_NO_NETWORK',
} as const;

/** What a host offers: each loaded data path, and why one cannot be used. */
export interface DataPlaneHost {
  readonly kernel?: DataPath | undefined;
  readonly userspace?: DataPath | undefined;
  /** What `auto` means on this host (`--data-plane`); default `auto`. */
  readonly hostDefault?: DataPlaneChoice;
}

const reasonKernel = (h: DataPlaneHost): string | undefined =>
  h.kernel === undefined ? 'no kernel data path is loaded on this host' : h.kernel.unavailable;

/** The policy (see the module comment): the data plane for `n` on host `h`, or why none fits. */
export function chooseDataPlane(n: DataPathNetwork, h: DataPlaneHost): { readonly ok: true; readonly dataplane: DataPlane } | { readonly ok: false; readonly error: WeftError } {
  const asked = n.dataplane ?? 'auto';
  if (asked !== 'auto' && asked !== 'kernel' && asked !== 'userspace') {
    return { ok: false, error: errors.badRequest(P, `Network "${n.id}" asks for data plane ${JSON.stringify(asked)}: expected auto, kernel or userspace`, { code: DataPlaneCodes.badChoice, path: 'weft.dataplane', value: asked }) };
  }
  const userspace = (why: string): ReturnType<typeof chooseDataPlane> =>
    h.userspace !== undefined && h.userspace.unavailable === undefined
      ? { ok: true, dataplane: 'userspace' }
      : { ok: false, error: errors.unsupported(P, `Network "${n.id}" needs the userspace data path (${why}), which is not loaded on this host`, { code: DataPlaneCodes.unavailable }) };
  if (asked === 'kernel') {
    if (n.encrypted) {
      return {
        ok: false,
        error: errors.badRequest(P, `Network "${n.id}" is encrypted and asks for the kernel data plane, which carries VXLAN in plaintext: Weft never sends an encrypted network in clear`, {
          code: DataPlaneCodes.kernelEncrypted, path: 'weft.dataplane', value: asked, hint: 'use --opt weft.dataplane=auto (or userspace) for encrypted networks',
        }),
      };
    }
    const why = reasonKernel(h);
    if (why !== undefined) return { ok: false, error: errors.unsupported(P, `Network "${n.id}" asks for the kernel data plane, but ${why}`, { code: DataPlaneCodes.unavailable, hint: 'use --opt weft.dataplane=auto or userspace' }) };
    return { ok: true, dataplane: 'kernel' };
  }
  if (asked === 'userspace') return userspace('it asks for it');
  if (n.encrypted) return userspace('it is encrypted');
  const host = h.hostDefault ?? 'auto';
  if (host === 'userspace') return userspace("this host's --data-plane is userspace");
  if (n.vni === 0 && host === 'auto' && h.userspace !== undefined) return { ok: true, dataplane: 'userspace' };
  if (reasonKernel(h) === undefined) return { ok: true, dataplane: 'kernel' };
  return userspace(`the kernel path cannot carry it: ${reasonKernel(h)}`);
}

/** The dispatching data path over `h`'s paths; `remember` keeps placements across restarts. */
export function createDispatcher(h: DataPlaneHost, remember?: { get(id: string): Promise<DataPlane | undefined>; set(id: string, d: DataPlane | undefined): Promise<void> }): DataPath {
  const placed = new Map<string, DataPlane>();
  const pathOf = (d: DataPlane): DataPath => (d === 'kernel' ? h.kernel : h.userspace) ?? raise(errors.internal(P, `the ${d} data path went away`));
  const paths = (): DataPath[] => [h.kernel, h.userspace].filter((d): d is DataPath => d !== undefined);
  const routed = (network: string): DataPath | undefined => {
    const d = placed.get(network);
    return d === undefined ? undefined : pathOf(d);
  };
  const need = (network: string): DataPath =>
    routed(network) ?? raise(errors.notFound(P, `Network "${network}" is not set up on this host: call ensureNetwork first`, { code: DataPlaneCodes.noNetwork, value: network }));
  const both = paths();
  return {
    // Encrypted networks always go to the userspace switch: it decides.
    encrypts: h.userspace?.encrypts === true,
    capacity: { ports: both.reduce((n, d) => n + (d.capacity?.ports ?? 0), 0) || 16384 },
    ...(both.length === 0 ? { unavailable: 'no data path is loaded' } : {}),
    portCount: () => both.reduce((n, d) => n + (d.portCount?.() ?? 0), 0),
    placement(id) {
      const d = placed.get(id);
      if (d === undefined) return undefined;
      return pathOf(d).placement?.(id) ?? { dataplane: d, vtepPort: pathOf(d).vtepPort ?? 4789 };
    },
    async ensureNetwork(n) {
      let d = placed.get(n.id) ?? (await remember?.get(n.id));
      if (d !== undefined && (d === 'kernel' ? h.kernel : h.userspace) === undefined) d = undefined;
      if (d === 'kernel' && n.encrypted) d = undefined; // re-made encrypted: decide again
      if (d === undefined) {
        const c = chooseDataPlane(n, h);
        if (!c.ok) raise(c.error);
        d = c.dataplane;
      }
      await pathOf(d).ensureNetwork(n);
      if (placed.get(n.id) !== d) {
        placed.set(n.id, d);
        await remember?.set(n.id, d);
      }
    },
    async removeNetwork(id) {
      const d = placed.get(id);
      // After a restart nothing may be placed yet: both paths clean up whatever they hold.
      if (d === undefined) for (const p of both) await p.removeNetwork(id);
      else await pathOf(d).removeNetwork(id);
      placed.delete(id);
      await remember?.set(id, undefined);
    },
    addPort: (p) => need(p.network).addPort(p),
    async removePort(network, endpointId) {
      await routed(network)?.removePort(network, endpointId);
    },
    addPeer: (p) => need(p.network).addPeer(p),
    removePeer(network, mac) {
      routed(network)?.removePeer(network, mac);
    },
    counters(network) {
      if (network !== undefined) return routed(network)?.counters(network) ?? {};
      const out: Record<string, Counters> = {};
      for (const p of both) Object.assign(out, p.counters());
      return out;
    },
    /** Both paths' statistics: each network from the path it is placed on; host and VTEP rows from the switch. */
    stats() {
      const parts = both.map((p) => ({ p, s: p.stats?.() }));
      const networks = parts.flatMap(({ p, s }) => (s?.networks ?? []).filter((n) => { const d = placed.get(n.id); return d === undefined || (d === 'kernel' ? h.kernel : h.userspace) === p; }));
      const host: Record<string, number> = {};
      for (const { s } of parts) for (const [k, v] of Object.entries(s?.host ?? {})) host[k] = (host[k] ?? 0) + v;
      return { host, networks, vteps: parts.flatMap(({ s }) => s?.vteps ?? []) };
    },
  };
}

export const DataPlaneConfig = t.partial({
  /** What `auto` means on this host: `auto` (the policy), `userspace` (never the kernel), `kernel`. */
  hostDefault: t.union([t.literal('auto'), t.literal('kernel'), t.literal('userspace')]),
});
export type DataPlaneConfig = t.TypeOf<typeof DataPlaneConfig>;

/** The plugin: provides `datapath` over whichever of `datapath.kernel` and `datapath.userspace` are loaded. */
export function dataplanePlugin(): PluginDefinition<DataPlaneConfig> {
  return definePlugin<DataPlaneConfig>({
    manifest: {
      name: 'dataplane',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['datapath'],
      optional: ['datapath.kernel', 'datapath.userspace'],
      description: 'Picks the kernel or the userspace data path per network (--opt weft.dataplane) and routes to it',
      config: DataPlaneConfig,
    },
    services: {
      datapath: (ctx: Context<DataPlaneConfig>) => {
        const h: DataPlaneHost = {
          ...(ctx.services.has('datapath.kernel') ? { kernel: ctx.services.get('datapath.kernel') } : {}),
          ...(ctx.services.has('datapath.userspace') ? { userspace: ctx.services.get('datapath.userspace') } : {}),
          ...(ctx.config.hostDefault !== undefined ? { hostDefault: ctx.config.hostDefault } : {}),
        };
        if (h.kernel === undefined && h.userspace === undefined) ctx.log.warn('dataplane: neither datapath.kernel nor datapath.userspace is loaded; every network will be refused');
        const key = (id: string) => `placements/${id}`;
        return createDispatcher(h, {
          get: async (id) => (await getJson<{ dataplane: DataPlane }>(ctx.store, key(id)))?.dataplane,
          set: async (id, d) => {
            if (d === undefined) await ctx.store.delete(key(id));
            else await putJson(ctx.store, key(id), { dataplane: d });
          },
        });
      },
    },
  });
}
