/**
 * Rejoin after a partition, on the gossip simulator (real SWIM membership with memberlist's LAN
 * timers, virtual time): with the fast reconnect a cut-off node is back everywhere, tables
 * included, within a few seconds of the cut healing, however long the cut lasted; without it
 * memberlist alone leaves a long cut split for good.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimCluster, seededRandom, type SimCluster } from '@weft/memberlist';
import { NetworkTables, membershipHost, startReconnect, type Reconnect } from './mod.ts';

const enc = (s: string) => new TextEncoder().encode(s);

interface World {
  c: SimCluster;
  t: NetworkTables[];
  r: Reconnect[];
}

async function world(n: number, reconnect: boolean, seed = 11): Promise<World> {
  const t: NetworkTables[] = [];
  const r: Reconnect[] = [];
  const c = await createSimCluster({
    n,
    seed,
    // LAN-ish latency: a returning node's first messages can reach a peer before that peer has
    // heard it is back (the order the real partition test on agents showed).
    latency: [10, 40],
    bootstrap: 'seeded',
    extra: (i) => ({
      meta: { weft: '1', i: String(i) },
      localState: () => t[i]!.localState(),
      mergeRemoteState: (s: Uint8Array) => t[i]!.mergeRemoteState(s),
    }),
  });
  c.nodes.forEach((m, i) => {
    t[i] = new NetworkTables({ host: membershipHost(m), clock: c.clock, random: seededRandom(500 + i) });
    t[i]!.start();
    if (reconnect) r[i] = startReconnect(m, { clock: c.clock, interval: 1000, timeout: 30 * 60_000, random: seededRandom(900 + i) });
  });
  await c.clock.run(2_000);
  for (const x of t) await x.joinNetwork('n');
  await c.clock.run(2_000);
  return { c, t, r };
}

const allAlive = (w: World) => w.c.nodes.every((m) => m.members().length === w.c.nodes.length && m.members().every((x) => x.state === 'alive'));
const allEntries = (w: World, k: number) => w.t.every((x) => x.entries('n', 'endpoints').length === k);

/** Cuts node `cut` off for `ms`, with a write on each side; returns ms from the heal until everything agrees (-1: not within `budget`). */
async function cutAndHeal(w: World, cut: number, ms: number, budget: number): Promise<number> {
  const n = w.c.nodes.length;
  const rest = [...Array(n).keys()].filter((i) => i !== cut);
  w.t[rest[0]!]!.put('n', 'endpoints', 'before', enc('b'));
  await w.c.clock.run(3_000);
  assert.ok(allEntries(w, 1), 'the write before the cut reached everyone');
  w.c.net.partition([rest.map((i) => w.c.addrOf(i)), [w.c.addrOf(cut)]]);
  await w.c.clock.run(8_000);
  assert.ok(w.c.nodes[rest[0]!]!.members().some((x) => x.name === `node-${cut}` && x.state === 'dead'), 'the cut is seen as a failure');
  w.t[rest[1]!]!.put('n', 'endpoints', 'healthy-side', enc('h'));
  w.t[cut]!.put('n', 'endpoints', 'cut-side', enc('c'));
  await w.c.clock.run(ms - 8_000);
  // Entries of the other side are kept (stale) through the cut: nothing is lost meanwhile.
  assert.ok(w.t[rest[0]!]!.get('n', 'endpoints', 'before') !== undefined && w.t[cut]!.get('n', 'endpoints', 'before') !== undefined, 'entries kept during the cut');
  w.c.net.partition([]);
  return w.c.clock.runUntil(() => allAlive(w) && allEntries(w, 3), budget);
}

for (const cutMs of [30_000, 90_000]) {
  test(`fast reconnect: a node cut off for ${cutMs / 1000} s is back everywhere, with the writes of both sides, within 3 s of the heal (3 or 5 nodes, 10 seeds)`, async () => {
    const times: number[] = [];
    for (const [n, seed] of [[3, 1], [3, 2], [3, 3], [3, 4], [3, 5], [5, 11], [5, 12], [5, 13], [5, 14], [5, 15]] as const) {
      const w = await world(n, true, seed);
      const t = await cutAndHeal(w, n - 1, cutMs, 3_000);
      const where = () => w.c.nodes.map((m, i) => `${m.name}: ${m.members().map((x) => `${x.name}=${x.state}`).join(' ')} [${w.t[i]!.entries('n', 'endpoints').map((e) => e.key).join(',')}]`).join(' | ');
      assert.ok(t >= 0, `n=${n} seed=${seed}: not reconverged within 3 s: ${where()}`);
      await w.c.clock.run(2_000); // the join's second push/pull (user state) ends after the merge that healed
      assert.ok(w.r.some((x) => x.rejoined > 0), `n=${n} seed=${seed}: a reconnect did it`);
      assert.equal(w.r.flatMap((x) => x.failed()), [], 'nobody is still being retried');
      times.push(t);
    }
    console.log(`  cut ${cutMs / 1000} s: reconverged ${times.join(', ')} ms (virtual) after the heal`);
  });
}

test('without the reconnect, memberlist alone leaves a 90 s cut split (the baseline the reconnect fixes)', async () => {
  const w = await world(5, false);
  const t = await cutAndHeal(w, 4, 90_000, 30_000);
  assert.is(t, -1, 'unexpectedly healed without a reconnect');
});

test('a member that left is not retried; one that stays dead is retried at the slow pace after fastFor', async () => {
  const c = await createSimCluster({ n: 3, seed: 3, bootstrap: 'seeded' });
  let attempts = 0;
  const m0 = c.nodes[0]!;
  const join = m0.join.bind(m0);
  m0.join = (seeds: readonly string[]) => {
    attempts++;
    return join(seeds);
  };
  const r = startReconnect(m0, { clock: c.clock, interval: 1000, timeout: 600_000, fastFor: 20_000, slowInterval: 10_000 });
  await c.clock.run(2_000);
  await Promise.all([c.nodes[1]!.leave(2000), c.clock.run(3_000)]);
  c.crash(2);
  await c.clock.run(15_000);
  assert.equal(r.failed(), ['node-2'], 'only the crashed member is retried');
  // A crashed member in the simulator never answers (each attempt hangs for the 10 s TCP
  // timeout), so while it is recent a new attempt starts every attemptWindow (3 s).
  const fast = attempts;
  assert.ok(fast >= 3, `retried every few seconds while recent (${fast})`);
  await c.clock.run(40_000); // now past fastFor
  const before = attempts;
  await c.clock.run(120_000);
  const slow = attempts - before;
  assert.ok(slow >= 4 && slow <= 12, `slow pace after fastFor: ${slow} attempts in 120 s`);
  r.stop();
});

test.run();
