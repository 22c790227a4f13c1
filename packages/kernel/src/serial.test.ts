import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKeyedRwLock, createKeyedSerial, createSerial } from './serial.ts';
import { listJson, memoryStore, putJson } from './store.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

test('createSerial runs one operation at a time, in call order, past failures', async () => {
  const serial = createSerial();
  const log: string[] = [];
  const op = (name: string, fail = false) => serial(async () => {
    log.push(`start ${name}`);
    await tick();
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  });
  const results = await Promise.allSettled([op('a'), op('b', true), op('c')]);
  assert.equal(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});

test('createKeyedSerial serialises per key and lets other keys run alongside', async () => {
  const serial = createKeyedSerial();
  const log: string[] = [];
  const op = (key: string, name: string) => serial(key, async () => {
    log.push(`start ${name}`);
    await tick();
    log.push(`end ${name}`);
  });
  await Promise.all([op('x', 'x1'), op('y', 'y1'), op('x', 'x2')]);
  assert.equal(log.indexOf('start x2') > log.indexOf('end x1'), true);
  assert.equal(log.indexOf('start y1') < log.indexOf('end x1'), true);
});

test('createKeyedRwLock: shared holders overlap, an exclusive runs alone, in arrival order, and a failure releases the lock', async () => {
  const lock = createKeyedRwLock();
  const log: string[] = [];
  let inside = 0;
  let most = 0;
  const op = (mode: 'shared' | 'exclusive', name: string, key = 'n', fail = false) => lock[mode](key, async () => {
    inside++;
    most = Math.max(most, inside);
    log.push(`start ${name}`);
    await tick();
    await tick();
    log.push(`end ${name}`);
    inside--;
    if (fail) throw new Error(name);
  });
  const all = Promise.allSettled([op('shared', 's1'), op('shared', 's2'), op('exclusive', 'x1', 'n', true), op('shared', 's3'), op('shared', 'o1', 'other'), op('exclusive', 'x2')]);
  const results = await all;
  assert.equal(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  const at = (e: string) => log.indexOf(e);
  assert.ok(at('start s2') < at('end s1'), 'two shared holders overlap');
  assert.ok(at('start x1') > at('end s1') && at('start x1') > at('end s2'), 'the exclusive waits for the shared holders');
  assert.ok(at('start s3') > at('end x1'), 'a shared that came after a waiting exclusive waits for it (no starvation)');
  assert.ok(at('start o1') < at('end s1'), 'another key is not held back');
  assert.ok(at('start x2') > at('end s3'), 'exclusives after the failed one still run, after the shared before them');
  assert.equal(log.slice(at('start x1'), at('end x1') + 1).filter((e) => !e.endsWith('o1')), ['start x1', 'end x1'], 'nothing else starts while the exclusive holds the key');
  assert.ok(most >= 2, 'holders overlapped');
});

test('listJson returns the records under a prefix in key order', async () => {
  const s = memoryStore();
  await putJson(s, 'n/b', { v: 2 });
  await putJson(s, 'n/a', { v: 1 });
  await putJson(s, 'm/a', { v: 3 });
  assert.equal(await listJson(s, 'n/'), [['n/a', { v: 1 }], ['n/b', { v: 2 }]]);
});

test.run();
