/**
 * @weft/kernel-vxlan — the kernel data path: per network a namespace with a bridge and a Linux
 * vxlan device (Docker's overlay layout), a veth per sandbox, static FDB and neighbour entries
 * through rtnetlink, and the embedded DNS listening in the network's namespace.
 */
import * as t from 'io-ts';
import { definePlugin, type Context, type PluginDefinition } from '@weft/kernel';
import { createKernelDataPath, type KernelDataPath, type KernelVxlanOptions } from './datapath.ts';

export { createKernelDataPath, probeKernel, bridgeMacFor, hostIfFor, KernelVxlanCodes } from './datapath.ts';
export type { KernelDataPath, KernelVxlanOptions } from './datapath.ts';
export { startResolver } from './resolver.ts';
export type { Resolver, ResolverCounters } from './resolver.ts';

const Port = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0 && n < 65536, 'Port');

/** Plugin configuration. */
export const KernelVxlanConfig = t.intersection([
  t.type({ dataPathAddr: t.string }),
  t.partial({ dataPathPort: Port, netns: t.string, prefix: t.string, dnsPort: Port, sweepMs: t.number }),
]);
export type KernelVxlanConfig = t.TypeOf<typeof KernelVxlanConfig>;

/**
 * The plugin. It provides `datapath.kernel` (what the dispatching `datapath` of @weft/dataplane
 * picks for plaintext networks), or `datapath` itself when `service` says so (a host that only
 * ever uses the kernel path, and the conformance tests).
 */
export function kernelVxlanPlugin(opts: { readonly service?: 'datapath' | 'datapath.kernel' } = {}): PluginDefinition<KernelVxlanConfig> {
  const service = opts.service ?? 'datapath.kernel';
  let running: KernelDataPath | undefined;
  const factory = async (ctx: Context<KernelVxlanConfig>) => {
    const c = ctx.config;
    const o: KernelVxlanOptions = {
      dataPathAddr: c.dataPathAddr,
      log: ctx.log,
      ...(ctx.services.has('dns') ? { dns: ctx.services.get('dns') } : {}),
      ...(c.dataPathPort !== undefined ? { dataPathPort: c.dataPathPort } : {}),
      ...(c.netns !== undefined ? { netns: c.netns } : {}),
      ...(c.prefix !== undefined ? { prefix: c.prefix } : {}),
      ...(c.dnsPort !== undefined ? { dnsPort: c.dnsPort } : {}),
      ...(c.sweepMs !== undefined ? { sweepMs: c.sweepMs } : {}),
    };
    running = await createKernelDataPath(o);
    if (running.unavailable !== undefined) ctx.log.warn('kernel-vxlan: the kernel data path is unavailable here; networks go to the userspace switch', { reason: running.unavailable });
    return running;
  };
  return definePlugin<KernelVxlanConfig>({
    manifest: {
      name: 'kernel-vxlan',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: [service],
      // The embedded DNS of each network is answered by the `dns` service when one is loaded.
      optional: ['dns'],
      description: "The kernel's vxlan device and bridge per network (Docker's overlay layout), static FDB/neighbour entries through rtnetlink",
      config: KernelVxlanConfig,
    },
    services: service === 'datapath' ? { datapath: factory } : { 'datapath.kernel': factory },
    stop: async () => {
      await running?.close();
      running = undefined;
    },
  });
}
