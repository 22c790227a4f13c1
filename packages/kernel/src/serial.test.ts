import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKeyedSerial, createSerial } from './serial.ts';
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

test('listJson returns the records under a prefix in key order', async () => {
  const s = memoryStore();
  await putJson(s, 'n/b', { v: 2 });
  await putJson(s, 'n/a', { v: 1 });
  await putJson(s, 'm/a', { v: 3 });
  assert.equal(await listJson(s, 'n/'), [['n/a', { v: 1 }], ['n/b', { v: 2 }]]);
});

test.run();
