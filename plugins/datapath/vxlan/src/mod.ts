/**
 * @weft/vxlan — the `datapath` service: a userspace switch per network over TAP devices, RFC 7348
 * VXLAN between hosts on one shared UDP socket, proxy ARP and a gateway that answers ARP and ping.
 */
import * as t from 'io-ts';
import { definePlugin, type Context, type PluginDefinition } from '@weft/kernel';
import { createVxlanDataPath, type VxlanDataPath, type VxlanOptions } from './datapath.ts';

export { VXLAN_OVERHEAD, DEFAULT_MTU, LOCAL_VNI_BASE, VxlanCodes, gatewayMacFor, LOW_LATENCY, createVxlanDataPath } from './datapath.ts';
export type { VxlanOptions, VxlanDataPath } from './datapath.ts';
export { COUNTER_FIELDS } from './layout.ts';

const Port = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0 && n < 65536, 'Port');

/** Plugin configuration (`--data-path-addr`, `--data-path-port`, ...). */
export const VxlanConfig = t.intersection([
  t.type({ dataPathAddr: t.string }),
  t.partial({
    dataPathPort: Port, netns: t.string, offload: t.boolean, sourcePorts: t.number, socketBuffer: t.number, spinUs: t.number, spinBudget: t.number, warmUs: t.number, superSeal: t.boolean, innerChecksums: t.boolean, threads: t.union([t.literal(1), t.literal(2)]), gather: t.boolean, nice: t.number,
  }),
]);
export type VxlanConfig = t.TypeOf<typeof VxlanConfig>;

export const VXLAN_PLUGIN_VERSION = '0.1.0';

/**
 * The plugin: provides `datapath`, or `datapath.userspace` when a host runs both data paths behind
 * the dispatcher of @weft/dataplane. Each definition owns at most one running data path.
 */
export function vxlanPlugin(opts: { readonly service?: 'datapath' | 'datapath.userspace' } = {}): PluginDefinition<VxlanConfig> {
  const service = opts.service ?? 'datapath';
  let running: VxlanDataPath | undefined;
  const factory = async (ctx: Context<VxlanConfig>) => {
    const c = ctx.config;
    const o: VxlanOptions = {
      dataPathAddr: c.dataPathAddr,
      log: ctx.log,
      ...(ctx.services.has('dns') ? { dns: ctx.services.get('dns') } : {}),
      ...(ctx.services.has('cipher') ? { cipher: ctx.services.get('cipher') } : {}),
      ...(c.dataPathPort !== undefined ? { dataPathPort: c.dataPathPort } : {}),
      ...(c.netns !== undefined ? { netns: c.netns } : {}),
      ...(c.offload !== undefined ? { offload: c.offload } : {}),
      ...(c.sourcePorts !== undefined ? { sourcePorts: c.sourcePorts } : {}),
      ...(c.socketBuffer !== undefined ? { socketBuffer: c.socketBuffer } : {}),
      ...(c.spinUs !== undefined ? { spinUs: c.spinUs } : {}),
      ...(c.warmUs !== undefined ? { warmUs: c.warmUs } : {}),
      ...(c.spinBudget !== undefined ? { spinBudget: c.spinBudget } : {}),
      ...(c.superSeal !== undefined ? { superSeal: c.superSeal } : {}),
      ...(c.threads !== undefined ? { threads: c.threads } : {}),
      ...(c.gather !== undefined ? { gather: c.gather } : {}),
      ...(c.nice !== undefined ? { nice: c.nice } : {}),
      ...(c.innerChecksums !== undefined ? { innerChecksums: c.innerChecksums } : {}),
    };
    running = await createVxlanDataPath(o);
    return running;
  };
  return definePlugin<VxlanConfig>({
    manifest: {
      name: 'vxlan',
      version: VXLAN_PLUGIN_VERSION,
      kernel: '^0.1.0',
      provides: [service],
      // The embedded DNS of each network is answered by the `dns` service when one is loaded.
      // Encrypted networks are sealed with keys the `cipher` service's ring listeners hand over.
      optional: ['dns', 'cipher'],
      description: 'Userspace switch over TAP devices with RFC 7348 VXLAN and proxy ARP',
      config: VxlanConfig,
    },
    services: service === 'datapath' ? { datapath: factory } : { 'datapath.userspace': factory },
    stop: async () => {
      await running?.close();
      running = undefined;
    },
  });
}
