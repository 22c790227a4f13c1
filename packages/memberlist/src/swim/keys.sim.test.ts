/**
 * Gossip encryption on the simulator: peers without a valid key are refused and counted, and a
 * key ring rotated the way the control plane rotates it (install the new key for receive,
 * switch the primary, drop the oldest) never refuses a peer, even when nodes apply each ring at
 * different times.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimCluster, type SimCluster } from '../sim/cluster.ts';
import { seededRandom } from './types.ts';

const rnd = seededRandom(99);
const key = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(rnd() * 256));
const alive = (c: SimCluster, i: number) =>
  c.nodes[i]!.members()
    .filter((m) => m.state === 'alive')
    .map((m) => m.name)
    .sort();
const refused = (c: SimCluster) => c.nodes.reduce((a, m) => ({ packets: a.packets + m.counters.refused.packets, streams: a.streams + m.counters.refused.streams }), { packets: 0, streams: 0 });

test('a keyless peer and a peer with a wrong key are refused; the refusal counters grow', async () => {
  const k = key();
  const wrong = key();
  // nodes 0-3 share k; node 4 has no key; node 5 has another key. Every node joins node 0.
  const seen: string[] = [];
  const onRefused = (kind: 'packet' | 'stream', from: string) => void seen.push(`${kind} ${from}`);
  const c = await createSimCluster({ n: 6, seed: 5, extra: (i) => (i === 4 ? {} : i === 5 ? { keys: [wrong] } : i === 0 ? { keys: [k], onRefused } : { keys: [k] }) });
  await c.clock.run(15_000);
  const keyed = ['node-0', 'node-1', 'node-2', 'node-3'];
  for (let i = 0; i < 4; i++) assert.equal(alive(c, i), keyed, `node-${i} sees exactly the keyed nodes`);
  assert.equal(alive(c, 4), ['node-4'], 'the keyless node saw no one');
  assert.equal(alive(c, 5), ['node-5'], 'the wrong-key node saw no one');
  const s0 = c.nodes[0]!.counters.refused;
  assert.ok(s0.streams >= 2, `the seed refused both joins (push/pull streams): ${JSON.stringify(s0)}`);
  assert.ok(seen.includes(`stream ${c.addrOf(4)}:0`) && seen.includes(`stream ${c.addrOf(5)}:0`), `onRefused names the senders: ${seen.join(', ')}`);
  // The outsiders also try UDP: give them the member list, so they probe the keyed nodes.
  const alives = c.nodes.slice(0, 4).map((m) => m.selfAlive());
  c.nodes[4]!.seedMembers(alives);
  c.nodes[5]!.seedMembers(alives);
  const before = refused(c);
  await c.clock.run(10_000);
  const after = refused(c);
  assert.ok(after.packets > before.packets, `datagrams without a valid key were refused: ${before.packets} → ${after.packets}`);
  for (let i = 0; i < 4; i++) assert.equal(alive(c, i), keyed, `node-${i} still lists only the keyed nodes`);
  // The seed answered the wrong-key node's join with an error sealed with k: it could not open it.
  assert.ok(c.nodes[5]!.counters.refused.streams > 0, 'the wrong-key node refused the reply it could not open');
  assert.is(c.nodes[4]!.counters.refused.packets, 0, 'a node without encryption refuses nothing as "no key" (it drops malformed input)');
});

/** Ring as the control plane keeps it (oldest first, primary = second newest), as memberlist wants it (primary first). */
const asKeys = (ring: Uint8Array[]): Uint8Array[] => {
  const p = ring.length >= 2 ? ring.length - 2 : 0;
  return [ring[p]!, ...ring.filter((_, i) => i !== p)];
};

async function rotateStaggered(c: SimCluster, keys: Uint8Array[], spreadMs: number): Promise<void> {
  for (const m of c.nodes) c.clock.setTimeout(() => m.applyKeys(keys), rnd() * spreadMs);
  await c.clock.run(spreadMs + 10_000);
}

test('two rotations applied at different times on every node: no suspicion, nothing refused', async () => {
  const ring = [key(), key(), key()];
  const c = await createSimCluster({ n: 30, seed: 11, bootstrap: 'seeded', extra: () => ({ keys: asKeys(ring) }) });
  let suspects = 0;
  c.nodes.forEach((m) => m.onEvent((e) => void (e.type === 'suspect' || e.type === 'dead' ? suspects++ : 0)));
  await c.clock.run(5000);
  for (let r = 0; r < 2; r++) {
    ring.push(key());
    ring.shift();
    await rotateStaggered(c, asKeys(ring), 3000);
  }
  assert.is(suspects, 0, 'no member suspected during the rotations');
  assert.equal(refused(c), { packets: 0, streams: 0 });
  for (const m of c.nodes) assert.is(m.keys().length, 3);
  assert.ok(c.nodes.every((m) => m.numAlive() === 30), 'everyone alive everywhere');

  // Control: a ring whose new key is the primary at once (no receive-first step), applied with the
  // same stagger, refuses peers and gets members suspected — what the ring order prevents.
  const fresh = key();
  await rotateStaggered(c, [fresh, ...asKeys(ring).slice(1)], 3000);
  assert.ok(refused(c).packets > 0, 'a new primary used before everyone holds it is refused');
  assert.ok(suspects > 0, `members suspected meanwhile (${suspects})`);
  console.log(`  control (new key primary at once): ${refused(c).packets} datagrams refused, ${suspects} suspect/dead events`);
});

test('applyKeys: install, use, remove in that order; errors name the problem', async () => {
  const c = await createSimCluster({ n: 1, seed: 1, bootstrap: 'seeded' });
  const m = c.nodes[0]!;
  assert.equal(m.encryption(), { enabled: false, keys: 0 });
  const [a, b, d] = [key(), key(), key()];
  assert.equal(m.applyKeys([a, b]), { installed: 2, removed: 0 });
  assert.equal(m.encryption(), { enabled: true, keys: 2 });
  assert.equal(m.applyKeys([b, d]), { installed: 1, removed: 1 });
  assert.equal(m.keys(), [b, d], 'primary first, the old primary removed after the switch');
  assert.throws(() => m.applyKeys([]), /at least one key/);
  assert.throws(() => m.applyKeys([new Uint8Array(7)]), /7 bytes/);
  assert.equal(m.keys(), [b, d], 'a refused ring changes nothing');
});

test.run();
