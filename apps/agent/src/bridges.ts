/**
 * Glue between plugins that know nothing of each other, as triggers: gossip joins the peers the
 * control plane lists — when its state changes, at start (after a restart the snapshot may have
 * arrived before this plugin subscribed), and every `REJOIN_MS` while any listed peer is missing,
 * so a node isolated by a restart or a partition finds its way back (NetworkDB does the same).
 * The gossip plugin has installed the swarm's gossip keys by then (it applies `control.keyring`,
 * which control publishes while it starts, before this plugin runs).
 *
 * On the manager that ran `node rm`, the key rings are rotated until none of the keys the removed
 * node held is left (`lockOut`).
 */
import { definePlugin, GOSSIP_KEY_EPOCH_TAG, type Context } from '@weft/kernel';

export const REJOIN_MS = 10_000;
/** How long a lock-out step waits for every node to gossip the current ring before it rotates anyway. */
export const LOCKOUT_CONFIRM_MS = 60_000;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Swarm nodes (other than `removed`) that gossip a primary key epoch below `epoch`: they have not
 * applied the current ring yet, so they do not hold its newest key, which the next rotation makes
 * the primary. Only members gossip can reach count (a node that is down gets the ring from the
 * manager when it returns).
 */
async function lagging(ctx: Context<unknown>, epoch: number, removed: string): Promise<string[]> {
  const swarm = new Set((await ctx.services.get('control').nodes()).filter((n) => n.Status.State !== 'left').map((n) => n.Description.Hostname));
  return ctx.services
    .get('membership')
    .members()
    .filter((m) => (m.state === 'alive' || m.state === 'suspect') && m.meta['weft'] === '1' && m.name !== removed && swarm.has(m.name))
    .filter((m) => !(Number(m.meta[GOSSIP_KEY_EPOCH_TAG]) >= epoch))
    .map((m) => m.name);
}

/**
 * `node rm`: the removed node holds every key of the ring (oldest, primary, newest). A rotation
 * the way the ring always rotates (the newest key, distributed one rotation earlier, becomes the
 * primary) keeps it able to read until the primary is a key generated after its removal, and
 * able to inject until its keys are all gone: three rotations. Each one waits until every other
 * node gossips the current ring's epoch (it holds the key the next rotation makes primary), so
 * no node is ever refused on the way; after the second the removed node decrypts nothing, after
 * the third nothing it sends is accepted. The data-path ring rotates with it (same order).
 */
async function lockOut(ctx: Context<unknown>, removed: string, running: () => boolean): Promise<void> {
  if (!ctx.services.has('control') || !ctx.services.has('membership')) return;
  const control = ctx.services.get('control');
  const start = control.info().KeyRing;
  if (start === undefined) return;
  const held = Math.max(...start.Epochs);
  ctx.log.info('rotating the key rings until the removed node holds none of their keys', { node: removed, heldUpToEpoch: held });
  // Each step works from the ring the previous rotation returned (a manager's own view of the
  // cluster store may lag its write by a moment; a stale ring must not cause an extra rotation).
  let ring = start;
  while (running()) {
    if (Math.min(...ring.Epochs) > held) break;
    const t0 = Date.now();
    let behind = await lagging(ctx, ring.PrimaryEpoch, removed);
    while (behind.length > 0 && Date.now() - t0 < LOCKOUT_CONFIRM_MS && running()) {
      await sleep(200);
      behind = await lagging(ctx, ring.PrimaryEpoch, removed);
    }
    if (!running()) return;
    if (behind.length > 0) ctx.log.warn('nodes have not gossiped the current key ring; rotating anyway, they catch up from the manager', { nodes: behind, epoch: ring.PrimaryEpoch });
    const r = await ctx.invoke('control', 'Swarm.RotateKeys', {});
    if (r._tag === 'Left') {
      ctx.log.error('key rotation after node removal failed; the removed node keeps its keys until the next scheduled rotation', { node: removed, error: r.left.message });
      return;
    }
    ring = r.right;
    ctx.log.info('rotated the key rings after node removal', { node: removed, rotation: ring.Rotation, primaryEpoch: ring.PrimaryEpoch, oldestEpoch: Math.min(...ring.Epochs) });
  }
  if (running()) ctx.log.info('the removed node holds no key of the current rings', { node: removed });
}

/**
 * `seeds` (`--gossip-join`) are joined here rather than by the gossip plugin: this plugin starts
 * after control, which has published the swarm's key ring by then, so even on a node that is in a
 * swarm no seed is ever contacted in plaintext. Retried with backoff (1 s doubling to 30 s) until
 * one answers, as the gossip plugin would.
 */
export function swarmGossipBridge(opts: { seeds?: readonly string[] } = {}) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let seedRetry: ReturnType<typeof setTimeout> | undefined;
  /** Lock-outs run one after another (each reads the ring the previous one left). */
  let lockOuts: Promise<void> = Promise.resolve();
  let running = false;
  return definePlugin({
    manifest: { name: 'swarm-gossip', version: '0.1.0', kernel: '^0.1.0', provides: [], optional: ['control', 'membership', 'tables'], description: 'joins the gossip seeds and the peers the control plane lists; locks removed nodes out of the key rings' },
    start: (ctx) => {
      running = true;
      const seeds = opts.seeds ?? [];
      if (seeds.length > 0 && ctx.services.has('membership')) {
        let delay = 1000;
        const attempt = (): void => {
          if (!running) return;
          void ctx.services.get('membership').join(seeds).then(
            (n) => {
              if (n > 0) return ctx.log.info('joined the gossip cluster', { seeds, answered: n });
              ctx.log.warn('gossip join failed; retrying', { seeds, retryMs: delay });
              seedRetry = setTimeout(attempt, delay);
              seedRetry.unref();
              delay = Math.min(delay * 2, 30_000);
            },
            (e: unknown) => ctx.log.warn('gossip join failed', { seeds, error: String(e) }),
          );
        };
        attempt();
      }
      void joinMissing(ctx);
      timer = setInterval(() => void joinMissing(ctx), REJOIN_MS);
      timer.unref();
    },
    stop: () => {
      running = false;
      if (timer !== undefined) clearInterval(timer);
      if (seedRetry !== undefined) clearTimeout(seedRetry);
    },
    events: {
      'control.snapshot': (_e, ctx) => joinMissing(ctx),
      // `node rm` on the manager: the node's endpoints go from every host's tables now.
      'control.node.removed': (e, ctx) => {
        lockOuts = lockOuts.then(() => lockOut(ctx, e.Name, () => running)).catch((err) => ctx.log.error('locking a removed node out failed', { node: e.Name, error: String(err) }));
        if (!ctx.services.has('tables')) return;
        ctx.services.get('tables').evict?.(e.Name);
        ctx.log.info('evicted a removed node from the gossip tables', { node: e.Name });
      },
    },
  });
}
