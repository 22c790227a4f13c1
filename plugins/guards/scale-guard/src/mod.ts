/**
 * The scale guard: a warning when a host nears its endpoint capacity, a refusal at the limit —
 * before the data path fails halfway (Docker's overlay degrades past ~1000 containers per host
 * with no warning, moby/moby#44973). The limit defaults to what the data path reports it can hold.
 */
import * as t from 'io-ts';
import { definePlugin, type PluginDefinition } from '@weft/kernel';

export const ScaleGuardConfig = t.partial({
  /** Endpoints per host at which Join is refused; default: the data path's capacity. */
  limit: t.number,
  /** Endpoints per host from which every Join warns; default 80 % of the limit. */
  warnAt: t.number,
});
export type ScaleGuardConfig = t.TypeOf<typeof ScaleGuardConfig>;

export const GUARD_NAME = 'endpoint-capacity';

export function scaleGuardPlugin(): PluginDefinition<ScaleGuardConfig> {
  return definePlugin<ScaleGuardConfig>({
    manifest: {
      name: 'scale-guard',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['guard'],
      requires: ['datapath'],
      config: ScaleGuardConfig,
      description: 'warns near, and refuses at, the endpoint capacity of a host',
    },
    guards: [
      {
        name: GUARD_NAME,
        hooks: ['NetworkDriver.Join'],
        phase: 'before',
        order: 20,
        check(_call, ctx) {
          const dp = ctx.services.get('datapath');
          const limit = ctx.config.limit ?? dp.capacity?.ports;
          if (limit === undefined || dp.portCount === undefined) return undefined;
          const warnAt = ctx.config.warnAt ?? Math.floor(limit * 0.8);
          const used = dp.portCount();
          if (used >= limit) {
            return {
              veto: `this host already has ${used} endpoints, its limit is ${limit}`,
              hint: 'Run the sandbox on another host, remove unused sandboxes, or raise the limit if the data path allows it.',
            };
          }
          if (used + 1 >= warnAt) return { warn: `this host has ${used + 1} of at most ${limit} endpoints` };
          return undefined;
        },
      },
    ],
  });
}
