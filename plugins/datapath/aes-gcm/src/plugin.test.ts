import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { createKernel, initialRing, KernelCodes, loadWorkerCipher, toKeyRing } from '@weft/kernel';
import { aesGcmPlugin } from './plugin.ts';

test('loads into the kernel, provides the cipher service with a worker module, honours its config; stop closes it', async () => {
  const k = createKernel();
  const r = await k.load([{ plugin: aesGcmPlugin, config: { replayWindow: 1 << 17 } }]);
  assert.ok(isRight(r), JSON.stringify(r));
  const cipher = k.service('cipher')!;
  assert.is(cipher.backend, 'node:crypto');
  assert.is(cipher.overhead, 28);
  assert.equal(cipher.worker?.config, { replayWindow: 1 << 17 }, 'the thread gets the same options');
  const ring = toKeyRing(initialRing(1));
  cipher.setKeyRing(ring);
  const w = await loadWorkerCipher(structuredClone(cipher.worker!));
  w.setKeyRing(ring);
  const out = new Uint8Array(100);
  const n = w.session('a', 'b').seal(new Uint8Array(50).fill(7), 50, out);
  assert.is(n, 78);
  const back = new Uint8Array(100);
  assert.is(cipher.session('b', 'a').open(out, n, back), 50, 'the service opens what the thread sealed');
  await k.stop();
  assert.throws(() => cipher.session('a', 'c'), /closed/);
});

test('bad config fails at load with the field path', async () => {
  const r = await createKernel().load([{ plugin: aesGcmPlugin, config: { replayWindow: 'big' } }]);
  assert.ok(isLeft(r) && r.left[0]!.code === KernelCodes.badConfig && r.left[0]!.path?.startsWith('replayWindow') === true, JSON.stringify(r));
  const w = await createKernel().load([{ plugin: aesGcmPlugin, config: { replayWindow: 1000 } }]);
  assert.ok(isLeft(w), 'a window that is not a power of two fails when the service starts');
});

test('the worker module refuses a config that is not an aes-gcm config', async () => {
  const { createWorkerCipher } = await import('./worker.ts');
  assert.throws(() => createWorkerCipher({ replayWindow: 'x' }), /aes-gcm: the data-path thread got a config/);
});

test.run();
