import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRight } from 'fp-ts/lib/Either.js';
import { createKernel, WeftException } from '@weft/kernel';
import { ipamBlockAllocator, ipamBlocksPlugin } from './allocator.ts';

test('the blocks service hands out fresh allocators: grant, release, reclaim, save and load', async () => {
  const k = createKernel();
  assert.ok(isRight(await k.load([{ plugin: ipamBlocksPlugin() }])));
  const a = k.service('blocks')!.create({ plugin: 'control' });
  a.addPool('n1/0', '10.30.0.0/24');
  a.addPool('n1/0', '10.99.0.0/24'); // exists: a no-op
  assert.is(a.grant('n1/0', 'w1'), '10.30.0.0/28');
  assert.is(a.grant('n1/0', 'w2'), '10.30.0.16/28');
  assert.is(a.grant('n1/0', 'w1'), '10.30.0.32/28');
  assert.equal(a.blocksOf('w1'), [{ key: 'n1/0', blocks: ['10.30.0.0/28', '10.30.0.32/28'] }]);
  try {
    a.release('n1/0', 'w2', '10.30.0.0/28');
    assert.unreachable('w2 does not own the block');
  } catch (e) {
    assert.instance(e, WeftException);
    assert.is((e as WeftException).error.plugin, 'control');
  }
  const bytes = a.save('n1/0')!;
  const b = k.service('blocks')!.create();
  assert.equal(b.blocksOf('w1'), [], 'each allocator starts empty');
  b.load('n1/0', bytes);
  assert.equal(b.reclaimNode('w1'), [{ key: 'n1/0', blocks: ['10.30.0.0/28', '10.30.0.32/28'] }]);
  assert.is(b.grant('n1/0', 'w3'), '10.30.0.0/28', 'reclaimed blocks are free again');
  b.removePool('n1/0');
  assert.is(b.save('n1/0'), undefined);
  assert.throws(() => ipamBlockAllocator().load('n1/0', new Uint8Array([1, 2, 3])));
  await k.stop();
});

test.run();
