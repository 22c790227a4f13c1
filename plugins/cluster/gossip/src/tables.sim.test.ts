/**
 * NetworkTables over the gossip simulator: real SWIM membership, virtual time, loss, partitions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimCluster, seededRandom, type SimCluster } from '@weft/memberlist';
import type { TableEvent } from '@weft/kernel';
import { TABLES_DEFAULTS, NetworkTables, membershipHost } from './mod.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface World {
  c: SimCluster;
  t: NetworkTables[];
  events: TableEvent[][];
}

async function world(n: number, opts: { loss?: number; seed?: number; staleGrace?: number } = {}): Promise<World> {
  const t: NetworkTables[] = [];
  const events: TableEvent[][] = [];
  const c = await createSimCluster({
    n,
    seed: opts.seed ?? 7,
    bootstrap: 'seeded',
    ...(opts.loss !== undefined ? { loss: opts.loss } : {}),
    extra: (i) => ({
      meta: { weft: '1', i: String(i) },
      localState: () => t[i]!.localState(),
      mergeRemoteState: (s: Uint8Array) => t[i]!.mergeRemoteState(s),
    }),
  });
  c.nodes.forEach((m, i) => {
    events[i] = [];
    t[i] = new NetworkTables({
      host: membershipHost(m),
      clock: c.clock,
      random: seededRandom(1000 + i),
      config: { bulkSyncInterval: 5_000, ...(opts.staleGrace !== undefined ? { staleGrace: opts.staleGrace } : {}) },
      onEvent: (e) => events[i]!.push(e),
    });
    t[i]!.start();
  });
  await c.clock.run(2_000);
  return { c, t, events };
}

const values = (w: World, i: number, net: string) =>
  w.t[i]!.entries(net, 'endpoints')
    .map((e) => `${e.key}=${dec(e.value)}${e.stale ? '(stale)' : ''}`)
    .sort()
    .join(',');

test('entries reach every node attached to the network, and only them', async () => {
  const w = await world(12);
  for (const i of [0, 3, 7]) await w.t[i]!.joinNetwork('n1');
  await w.c.clock.run(1_000);
  for (const i of [0, 3, 7]) w.t[i]!.put('n1', 'endpoints', `ep${i}`, enc(`10.0.0.${i + 2}`));
  const ok = await w.c.clock.runUntil(() => [0, 3, 7].every((i) => w.t[i]!.entries('n1', 'endpoints').length === 3), 10_000);
  assert.ok(ok >= 0, `not converged: ${[0, 3, 7].map((i) => values(w, i, 'n1')).join(' | ')}`);
  assert.is(values(w, 3, 'n1'), 'ep0=10.0.0.2,ep3=10.0.0.5,ep7=10.0.0.9');
  for (const i of [1, 2, 4, 11]) assert.is(w.t[i]!.entries('n1', 'endpoints').length, 0, `node ${i} is not attached`);
  assert.equal([...w.t[0]!.peers('n1')], ['node-3', 'node-7']);
  assert.ok(w.events[7]!.some((e) => e.type === 'create' && e.entry.key === 'ep0' && e.entry.owner === 'node-0'));
  assert.throws(() => w.t[1]!.put('n1', 'endpoints', 'x', enc('y')), /has not joined the network/);
});

test('concurrent writes to one key converge to the same winner everywhere; deletes propagate', async () => {
  const w = await world(8, { loss: 0.1 });
  for (let i = 0; i < 8; i++) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  w.t[1]!.put('n', 'endpoints', 'k', enc('from-1'));
  w.t[5]!.put('n', 'endpoints', 'k', enc('from-5'));
  await w.c.clock.run(8_000);
  const seen = new Set(w.t.map((t) => dec(t.get('n', 'endpoints', 'k')!.value)));
  assert.is(seen.size, 1, `diverged: ${[...seen].join(', ')}`);
  const owner = w.t[0]!.get('n', 'endpoints', 'k')!.owner;
  w.t[owner === 'node-1' ? 1 : 5]!.delete('n', 'endpoints', 'k');
  await w.c.clock.run(8_000);
  assert.ok(w.t.every((t) => t.get('n', 'endpoints', 'k')?.deleted === true), 'tombstone everywhere');
  assert.ok(w.t.every((t) => t.entries('n', 'endpoints').length === 0));
});

test('a partition heals: writes made on both sides reach everyone', async () => {
  const w = await world(10);
  for (let i = 0; i < 10; i++) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  const a = [0, 1, 2, 3, 4].map((i) => w.c.addrOf(i));
  const b = [5, 6, 7, 8, 9].map((i) => w.c.addrOf(i));
  w.c.net.partition([a, b]);
  w.t[0]!.put('n', 'endpoints', 'left', enc('L'));
  w.t[9]!.put('n', 'endpoints', 'right', enc('R'));
  await w.c.clock.run(3_000);
  assert.is(w.t[9]!.get('n', 'endpoints', 'left'), undefined, 'partitioned: not yet seen');
  w.c.net.partition([]);
  const t = await w.c.clock.runUntil(() => w.t.every((x) => x.entries('n', 'endpoints').length === 2), 60_000);
  assert.ok(t >= 0, `not healed: ${w.t.map((_, i) => values(w, i, 'n')).join(' | ')}`);
});

test('a node that dies and returns within the grace period never loses its entries elsewhere', async () => {
  const w = await world(6, { staleGrace: 120_000 });
  for (let i = 0; i < 6; i++) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  w.t[4]!.put('n', 'endpoints', 'web', enc('10.0.0.44'));
  await w.c.clock.run(3_000);
  assert.is(dec(w.t[0]!.get('n', 'endpoints', 'web')!.value), '10.0.0.44');
  w.c.net.setUp(w.c.addrOf(4), 7946, false); // cut off, no leave
  const marked = await w.c.clock.runUntil(() => w.t[0]!.get('n', 'endpoints', 'web')?.stale === true, 60_000);
  assert.ok(marked >= 0, 'marked stale once declared dead');
  assert.is(w.t[0]!.entries('n', 'endpoints').length, 1, 'kept, so DNS still answers');
  assert.ok(!w.events[0]!.some((e) => e.type === 'delete' && e.entry.key === 'web'), 'no delete event during the outage');
  w.c.net.setUp(w.c.addrOf(4), 7946, true);
  // the node refutes and comes back alive
  const back = await w.c.clock.runUntil(() => w.t[0]!.get('n', 'endpoints', 'web')?.stale === false, 60_000);
  assert.ok(back >= 0, 'fresh again after return');
  assert.is(dec(w.t[0]!.get('n', 'endpoints', 'web')!.value), '10.0.0.44');
});

test('a graceful leave removes the node entries; so does the end of the grace period', async () => {
  const w = await world(5, { staleGrace: 20_000 });
  for (let i = 0; i < 5; i++) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  w.t[1]!.put('n', 'endpoints', 'a', enc('1'));
  w.t[2]!.put('n', 'endpoints', 'b', enc('2'));
  await w.c.clock.run(3_000);
  const leaving = w.c.nodes[1]!.leave(2_000);
  await w.c.clock.run(3_000);
  await leaving;
  const gone = await w.c.clock.runUntil(() => w.t[0]!.get('n', 'endpoints', 'a') === undefined, 30_000);
  assert.ok(gone >= 0, 'left node entries removed');
  w.c.crash(2);
  const expired = await w.c.clock.runUntil(() => w.t[0]!.get('n', 'endpoints', 'b') === undefined, 120_000);
  assert.ok(expired >= 0, 'removed after the grace period');
  assert.ok(w.events[0]!.some((e) => e.type === 'delete' && e.entry.key === 'b'));
});

test('evict: a removed node disappears from every node at once, not after the grace period', async () => {
  const w = await world(5, { staleGrace: 3_600_000 });
  for (let i = 0; i < 5; i++) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  w.t[4]!.put('n', 'endpoints', 'gone', enc('10.0.0.99'));
  await w.c.clock.run(3_000);
  w.c.crash(4);
  await w.c.clock.runUntil(() => w.t[1]!.get('n', 'endpoints', 'gone')?.stale === true, 60_000);
  assert.ok(w.t.slice(0, 4).every((t) => t.entries('n', 'endpoints').length === 1), 'kept while merely failed');
  w.t[0]!.evict('node-4');
  const t = await w.c.clock.runUntil(() => w.t.slice(0, 4).every((x) => x.get('n', 'endpoints', 'gone') === undefined && !x.attachedNodes('n').includes('node-4')), 10_000);
  assert.ok(t >= 0, 'evicted everywhere');
  assert.ok(w.events[2]!.some((e) => e.type === 'delete' && e.entry.key === 'gone'));
});

test('a node joining a network late gets everything by bulk sync', async () => {
  const w = await world(6);
  for (const i of [0, 1, 2]) await w.t[i]!.joinNetwork('n');
  await w.c.clock.run(1_000);
  for (let k = 0; k < 50; k++) w.t[k % 3]!.put('n', 'endpoints', `e${k}`, enc(String(k)));
  await w.c.clock.run(10_000);
  // joinNetwork resolves once the first node already on the network has sent its entries: a
  // sandbox started right after finds every name (the seed's "first sandbox of a network on a host").
  let joined = false;
  void w.t[5]!.joinNetwork('n').then(() => (joined = true));
  const t = await w.c.clock.runUntil(() => joined, 10_000);
  assert.ok(t >= 0 && t < TABLES_DEFAULTS.joinSyncTimeout, `joinNetwork resolved after ${t} ms (virtual)`);
  assert.is(w.t[5]!.entries('n', 'endpoints').length, 50, 'every entry in hand when joinNetwork resolves');
  // sync: asked again, answered at once; on a network no other node is on, false after the timeout.
  let synced: boolean | undefined;
  void w.t[5]!.sync('n', 500).then((r) => (synced = r));
  await w.c.clock.runUntil(() => synced !== undefined, 2_000);
  assert.is(synced, true);
  await w.t[4]!.joinNetwork('lonely');
  let lonely: boolean | undefined;
  void w.t[4]!.sync('lonely', 300).then((r) => (lonely = r));
  const waited = await w.c.clock.runUntil(() => lonely !== undefined, 2_000);
  assert.equal([lonely, waited >= 300], [false, true]);
  await w.t[5]!.leaveNetwork('n');
  assert.is(w.t[5]!.entries('n', 'endpoints').length, 0);
  const detached = await w.c.clock.runUntil(() => !w.t[0]!.peers('n').includes('node-5'), 10_000);
  assert.ok(detached >= 0, 'others learn it left the network');
});

test('garbage messages are counted, never thrown', async () => {
  const w = await world(2);
  const t = w.t[0]!;
  (t as unknown as { receive(f: string, p: Uint8Array): void }).receive('node-1', new Uint8Array([0xc1, 0xff, 0x00]));
  (t as unknown as { receive(f: string, p: Uint8Array): void }).receive('node-1', new Uint8Array([0x93, 0x01, 0xa1, 0x6e, 0x91, 0x01]));
  assert.ok(t.counters.malformed >= 2);
});

test.run();
