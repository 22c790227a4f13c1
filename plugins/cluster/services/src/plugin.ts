/**
 * The `services` plugin: replicated services (Docker swarm mode's services and tasks) on top of
 * the engine's sandboxes.
 *
 * - On the swarm leader, the manager side keeps service records (spec + task history) in its
 *   durable store, reconciles them every tick (placement.ts) against the ready nodes and what the
 *   nodes report, and publishes the desired tasks in the cluster table (`_cluster`/`tasks`).
 * - On every node, the node side watches the tasks assigned to it and makes them so through the
 *   `engine` service: creates the task's sandbox (attached to the service's networks even when
 *   they are not attachable, with the service fields in its endpoint records), removes tasks no
 *   longer wanted, and reports each task's state (`_cluster`/`task-status`). A task whose process
 *   exits or is killed is reported failed and removed; the manager then starts a replacement.
 * - Node death: the manager sees the node leave the ready set (gossip state) and reschedules.
 */
import { definePlugin, type PluginDefinition, type ServicesApi, type TableEvent } from '@weft/kernel';
import { CLUSTER_NETWORK } from './records.ts';
import { specKey } from './placement.ts';
import { ServicesConfig, type ServicesOptions } from './config.ts';
import { createShared, PLUGIN } from './common.ts';
import { createManager } from './manager.ts';
import { createNodeSide } from './node.ts';
import { createServicesApi } from './api.ts';

export function servicesPlugin(opts: ServicesOptions = {}): PluginDefinition<ServicesConfig> {
  let api: ServicesApi | undefined;
  let stopTicker: (() => void) | undefined;
  let kick: (() => void) | undefined;
  let closeIngress: (() => Promise<void>) | undefined;
  let unregister: (() => void) | undefined;
  return definePlugin<ServicesConfig>({
    manifest: {
      name: PLUGIN,
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['services'],
      requires: ['tables', 'engine', 'ports'],
      optional: ['control', 'membership', 'containers'],
      config: ServicesConfig,
      description: 'replicated services: placement and rescheduling on the manager, task reconciliation on every node',
    },
    services: {
      services: (ctx) => {
        const made = createServices(ctx, opts);
        closeIngress = made.closeIngress;
        return (api = made.api);
      },
    },
    start: async (ctx) => {
      await ctx.services.get('tables').joinNetwork(CLUSTER_NETWORK);
      const a = api!;
      unregister = ctx.services.get('engine').addRemoveCheck(a.checkNetworkRemoval);
      let running = false;
      let again = false;
      const pass = async () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        try {
          do {
            again = false;
            await a.reconcile().catch((e) => ctx.log.warn('services: reconciliation failed', { error: String((e as Error)?.message ?? e) }));
          } while (again);
        } finally {
          running = false;
        }
      };
      let debounce: ReturnType<typeof setTimeout> | undefined;
      kick = () => {
        if (debounce !== undefined) return;
        debounce = setTimeout(() => {
          debounce = undefined;
          void pass();
        }, 50);
      };
      const timer = setInterval(() => void pass(), ctx.config.intervalMs ?? 1000);
      stopTicker = () => {
        clearInterval(timer);
        if (debounce !== undefined) clearTimeout(debounce);
      };
    },
    stop: async () => {
      unregister?.();
      unregister = undefined;
      await closeIngress?.();
      stopTicker?.();
      stopTicker = undefined;
      kick = undefined;
    },
    events: {
      table: (e: TableEvent) => {
        // Cluster tables, and endpoint changes (routing mesh targets).
        if (e.entry.network === CLUSTER_NETWORK || e.entry.table === 'endpoints') kick?.();
      },
      membership: () => kick?.(),
    },
  });
}


function createServices(ctx: Parameters<typeof createShared>[0], opts: ServicesOptions): { api: ServicesApi; closeIngress: () => Promise<void> } {
  const shared = createShared(ctx, opts);
  const node = createNodeSide(shared);
  return { api: createServicesApi(shared, createManager(shared), node), closeIngress: () => node.close() };
}

export { specKey };
