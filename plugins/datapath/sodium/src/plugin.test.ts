import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, KernelCodes } from '@weft/kernel';
import { sodiumPlugin } from './plugin.ts';
import { initialRing, toKeyRing } from '@weft/kernel';

test('loads into the kernel and provides the cipher service, honouring its config', async () => {
  const k = createKernel();
  let seen = '';
  const user = definePlugin({
    manifest: { name: 'overlay-test', version: '1.0.0', kernel: '^0.1.0', provides: ['probe'], requires: ['cipher'] },
    services: { probe: (ctx) => { seen = ctx.services.get('cipher').backend; return {}; } },
  });
  const r = await k.load([{ plugin: sodiumPlugin, config: { backend: 'libsodium-wrappers', replayWindow: 1 << 17 } }, { plugin: user }]);
  assert.ok(isRight(r), JSON.stringify(r));
  const cipher = k.service('cipher');
  assert.ok(cipher !== undefined);
  assert.is(cipher.backend, 'libsodium-wrappers');
  assert.is(seen, 'libsodium-wrappers');
  assert.is(cipher.overhead, 28);
  cipher.setKeyRing(toKeyRing(initialRing(1)));
  const out = new Uint8Array(100);
  assert.is(cipher.session('a', 'b').seal(new Uint8Array(50), 50, out), 78);
  await k.stop();
  assert.throws(() => cipher.session('a', 'c'), /closed/, 'stop wipes the keys and closes the cipher');
});

test('bad config fails at load with the field path', async () => {
  const r = await createKernel().load([{ plugin: sodiumPlugin, config: { backend: 'openssl' } }]);
  assert.ok(isLeft(r) && r.left[0]!.code === KernelCodes.badConfig && r.left[0]!.path?.startsWith('backend') === true, JSON.stringify(r));
  const w = await createKernel().load([{ plugin: sodiumPlugin, config: { replayWindow: 1000 } }]);
  assert.ok(isLeft(w), 'a window that is not a power of two fails when the service starts');
});

test.run();
