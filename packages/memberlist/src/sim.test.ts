import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimCluster, type Membership } from './mod.ts';

const stateOf = (m: Membership, name: string) => m.members().find((x) => x.name === name)?.state;

test('100-node cluster converges via joins, a crash is detected by all, updates spread', async () => {
  const N = 100;
  const c = await createSimCluster({ n: N, seed: 42, config: { enableCompression: true } });
  const conv = await c.clock.runUntil(() => c.nodes.every((m) => m.numAlive() === N), 60_000, 100);
  assert.ok(conv >= 0, 'cluster did not converge in 60 s');
  assert.is(c.clock.errors.length, 0);

  // meta update (alive with incarnation+1) reaches everyone
  c.nodes[7]?.setMeta({ role: 'updated' });
  const upd = await c.clock.runUntil(() => c.nodes.every((m) => m.members().find((x) => x.name === 'node-7')?.meta['role'] === 'updated'), 30_000, 50);
  assert.ok(upd >= 0, 'meta update did not reach everyone');

  // Weft epidemic user broadcast reaches everyone exactly once
  const got = new Map<string, number>();
  c.nodes.forEach((m) => m.onUser((u) => got.set(m.name, (got.get(m.name) ?? 0) + 1)));
  c.nodes[3]?.broadcastUser(new TextEncoder().encode('hello'));
  const bc = await c.clock.runUntil(() => got.size === N - 1, 30_000, 50);
  assert.ok(bc >= 0, `user broadcast reached ${got.size}/${N - 1}`);
  assert.ok([...got.values()].every((v) => v === 1), 'duplicate delivery');

  // crash: every other node marks it dead
  c.crash(11);
  const det = await c.clock.runUntil(() => c.nodes.every((m, i) => i === 11 || stateOf(m, 'node-11') === 'dead'), 120_000, 100);
  assert.ok(det >= 0, 'crash not detected by all within 120 s');
  // no one else was declared dead
  for (const m of c.nodes.filter((_, i) => i !== 11)) for (const x of m.members()) if (x.name !== 'node-11') assert.ok(x.state === 'alive' || x.name === m.name, `${m.name} sees ${x.name} ${x.state}`);
});

test('graceful leave is seen as left', async () => {
  const c = await createSimCluster({ n: 20, seed: 3, bootstrap: 'seeded' });
  await c.clock.run(2000);
  const p = c.nodes[4]?.leave(5000);
  await c.clock.run(3000);
  await p;
  const ok = await c.clock.runUntil(() => c.nodes.every((m, i) => i === 4 || stateOf(m, 'node-4') === 'left'), 10_000);
  assert.ok(ok >= 0);
});

test('zero false positives at 10% loss, N=100, 3 simulated minutes', async () => {
  const N = 100;
  const c = await createSimCluster({ n: N, seed: 9, bootstrap: 'seeded', loss: 0.1 });
  let dead = 0;
  let suspect = 0;
  c.nodes.forEach((m) => m.onEvent((e) => (e.type === 'dead' ? dead++ : e.type === 'suspect' ? suspect++ : 0)));
  await c.clock.run(180_000);
  assert.is(dead, 0, 'false positive deaths');
  assert.ok(c.nodes.every((m) => m.numAlive() === N));
  console.log(`  10% loss, N=100, 180 s: ${suspect} suspect events (all observers), ${dead} false deaths`);
});

test('partition heals: both sides see each other dead then alive again', async () => {
  const c = await createSimCluster({ n: 10, seed: 5, bootstrap: 'seeded', config: { pushPullInterval: 10_000 } });
  await c.clock.run(2000);
  const a = [0, 1, 2, 3, 4].map(c.addrOf);
  const b = [5, 6, 7, 8, 9].map(c.addrOf);
  c.net.partition([a, b]);
  const split = await c.clock.runUntil(() => c.nodes[0]?.numAlive() === 5 && c.nodes[9]?.numAlive() === 5, 120_000, 200);
  assert.ok(split >= 0, 'partition not detected');
  c.net.partition([]);
  // dead nodes are not probed; they come back via push/pull + refutation
  const healed = await c.clock.runUntil(() => c.nodes.every((m) => m.numAlive() === 10), 180_000, 200);
  assert.ok(healed >= 0, 'partition did not heal');
});

test.run();
