/**
 * Glue between plugins that know nothing of each other, as triggers: gossip joins the peers the
 * control plane lists — when its state changes, at start (after a restart the snapshot may have
 * arrived before this plugin subscribed), and every `REJOIN_MS` while any listed peer is missing,
 * so a node isolated by a restart or a partition finds its way back (NetworkDB does the same).
 */
import { definePlugin, type Context } from '@weft/kernel';

export const REJOIN_MS = 10_000;

async function joinMissing(ctx: Context<unknown>): Promise<void> {
  if (!ctx.services.has('control') || !ctx.services.has('membership')) return;
  const boot = ctx.services.get('control').gossipBootstrap();
  if (boot === undefined) return;
  const m = ctx.services.get('membership');
  const self = m.self();
  const known = new Set(m.members().filter((x) => x.state === 'alive' || x.state === 'suspect').map((x) => `${x.addr}:${x.port}`));
  const missing = boot.peers.filter((p) => p !== `${self.addr}:${self.port}` && !known.has(p));
  if (missing.length === 0) return;
  const n = await m.join(missing).catch(() => 0);
  ctx.log.info('joined gossip peers from the control plane', { peers: missing, answered: n });
}

export function swarmGossipBridge() {
  let timer: ReturnType<typeof setInterval> | undefined;
  return definePlugin({
    manifest: { name: 'swarm-gossip', version: '0.1.0', kernel: '^0.1.0', provides: [], optional: ['control', 'membership', 'tables'], description: 'joins the gossip peers the control plane lists' },
    start: (ctx) => {
      void joinMissing(ctx);
      timer = setInterval(() => void joinMissing(ctx), REJOIN_MS);
      timer.unref();
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
    },
    events: {
      'control.snapshot': (_e, ctx) => joinMissing(ctx),
      // `node rm` on the manager: the node's endpoints go from every host's tables now.
      'control.node.removed': (e, ctx) => {
        if (!ctx.services.has('tables')) return;
        ctx.services.get('tables').evict?.(e.Name);
        ctx.log.info('evicted a removed node from the gossip tables', { node: e.Name });
      },
    },
  });
}
