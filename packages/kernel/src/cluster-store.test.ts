import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { memoryClusterStore } from './cluster-store.ts';
import type { WatchEvent } from './contracts/cluster-store.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('revisions, versions and a create-only transaction', async () => {
  const s = memoryClusterStore();
  const r1 = await s.put('a', enc('1'));
  const r2 = await s.put('a', enc('2'));
  const kv = (await s.get('a'))!;
  assert.equal([kv.createRevision, kv.modRevision, kv.version], [r1, r2, 2]);
  const create = (v: string) => s.txn({ compare: [{ key: 'n', target: 'createRevision', result: '=', value: 0 }], success: [{ op: 'put', key: 'n', value: enc(v) }], failure: [{ op: 'get', key: 'n' }] });
  assert.ok((await create('x')).succeeded);
  const lost = await create('y');
  assert.not.ok(lost.succeeded);
  assert.is(dec(lost.results[0]!.kvs![0]!.value), 'x');
  await s.close();
});

test('watch replays from a revision, then follows; reads at an old revision; compaction', async () => {
  const s = memoryClusterStore();
  const r1 = await s.put('p/a', enc('1'));
  await s.put('q/x', enc('no'));
  await s.put('p/b', enc('2'));
  await s.delete('p/a');
  const seen: string[] = [];
  const w = s.watch('p/', { fromRevision: r1, onEvents: (evs: readonly WatchEvent[], rev) => evs.forEach((e) => seen.push(`${rev}:${e.type}:${e.kv.key}`)) });
  await s.put('p/c', enc('3'));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(seen, [`${r1}:put:p/a`, `${r1 + 2}:put:p/b`, `${r1 + 3}:delete:p/a`, `${r1 + 4}:put:p/c`]);
  w.close();
  assert.equal((await s.range('p/', { revision: r1 })).kvs.map((k) => k.key), ['p/a']);
  await s.compact(r1 + 2);
  let err = '';
  s.watch('p/', { fromRevision: r1, onEvents: () => {}, onError: (e) => (err = e.code) });
  await new Promise((r) => setTimeout(r, 5));
  assert.is(err, 'WEFT_CLUSTER_STORE_COMPACTED');
  await s.close();
});

test('keys bound to a lease vanish when it expires', async () => {
  let t = 0;
  const s = memoryClusterStore({ now: () => t, leaseCheckMs: 5 });
  const l = await s.grantLease(1);
  await s.put('leader', enc('me'), { lease: l });
  t = 900;
  assert.is(await s.keepAlive(l), 1);
  t = 1800;
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(await s.get('leader'));
  t = 3000;
  await new Promise((r) => setTimeout(r, 20));
  assert.is(await s.get('leader'), undefined);
  await s.close();
});

test.run();
