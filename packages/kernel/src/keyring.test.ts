import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateDataKey, initialRing, newestEpoch, primaryIndex, rotate, toKeyRing } from './keyring.ts';

test('generated keys are 32 random bytes', () => {
  const a = generateDataKey(1);
  const b = generateDataKey(1);
  assert.is(a.key.length, 32);
  assert.not.equal(a.key, b.key);
});

test('initial ring: three keys, primary is the middle one', () => {
  const r = initialRing(10);
  assert.equal(r.keys.map((k) => k.epoch), [10, 11, 12]);
  assert.is(r.rotation, 0);
  assert.is(toKeyRing(r).primary, 1);
  assert.equal([primaryIndex(1), primaryIndex(2), primaryIndex(3)], [0, 0, 1]);
});

test('rotate drops the oldest, appends the newest, primary moves to the middle', () => {
  const r0 = initialRing(1);
  const r1 = rotate(r0);
  assert.equal(r1.keys.map((k) => k.epoch), [2, 3, 4]);
  assert.is(r1.keys[0], r0.keys[1], 'kept keys are the same keys');
  assert.is(r1.rotation, 1);
  const kr = toKeyRing(r1);
  assert.is(kr.keys[kr.primary]!.epoch, 3, 'the old newest key is now primary');
  assert.is(newestEpoch(r1), 4);
});

test('a rotation is applied once: replayed requests and stale keys are no-ops', () => {
  const r0 = initialRing(1);
  const r1 = rotate(r0, undefined, 0);
  assert.is(rotate(r1, undefined, 0), r1, 'same request again (expected rotation 0) changes nothing');
  const k = generateDataKey(4);
  assert.is(rotate(r1, k), r1, 'a key that is not newer is ignored');
  const r2 = rotate(r1, undefined, 1);
  assert.equal(r2.keys.map((x) => x.epoch), [3, 4, 5]);
  assert.is(r2.rotation, 2);
});

test.run();
