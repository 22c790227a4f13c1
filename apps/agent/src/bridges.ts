/**
 * Glue between plugins that know nothing of each other, as event triggers: when the control
 * plane's state changes, gossip joins the peers it lists (a swarm join gives a node its gossip
 * bootstrap peers).
 */
import { definePlugin } from '@weft/kernel';

interface ControlLike {
  gossipBootstrap(): { peers: string[]; keys: Uint8Array[] } | undefined;
}

export const swarmGossipBridge = definePlugin({
  manifest: { name: 'swarm-gossip', version: '0.1.0', kernel: '^0.1.0', provides: [], optional: ['control', 'membership'], description: 'joins the gossip peers the control plane lists' },
  events: {
    'control.snapshot': async (_e: unknown, ctx) => {
      if (!ctx.services.has('control') || !ctx.services.has('membership')) return;
      const boot = (ctx.services.get('control') as ControlLike).gossipBootstrap();
      if (boot === undefined) return;
      const m = ctx.services.get('membership');
      const self = m.self();
      const known = new Set(m.members().filter((x) => x.state === 'alive' || x.state === 'suspect').map((x) => `${x.addr}:${x.port}`));
      const missing = boot.peers.filter((p) => p !== `${self.addr}:${self.port}` && !known.has(p));
      if (missing.length === 0) return;
      const n = await m.join(missing).catch(() => 0);
      ctx.log.info('joined gossip peers from the control plane', { peers: missing, answered: n });
    },
  },
});
