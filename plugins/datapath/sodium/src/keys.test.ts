import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateDataKey, initialRing, newestEpoch, primaryIndex, rotate, toKeyRing } from '@weft/kernel';
import { DEFAULT_ROTATION_LIMITS, ringProblem, rotationDue, VolumeMeter } from '@weft/envelope';
import { createCipherWith } from './cipher.ts';
import { libsodiumWrappers } from './backend.ts';

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
  assert.is(ringProblem(toKeyRing(r)), undefined);
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

test('a node that re-applies the same ring keeps its SAs (idempotent)', () => {
  const c = createCipherWith(libsodiumWrappers());
  const ring = toKeyRing(initialRing(1));
  c.setKeyRing(ring);
  const s = c.session('a', 'b');
  const out = new Uint8Array(100);
  s.seal(new Uint8Array(10), 10, out);
  const seq = s.stats['txSeq'];
  c.setKeyRing(ring);
  c.setKeyRing({ keys: ring.keys.map((k) => ({ epoch: k.epoch, key: k.key.slice() })), primary: ring.primary });
  assert.is(s.stats['txSeq'], seq);
  assert.is(s.stats['txSaPackets'], 1);
});

test('rotationDue reads the session counters; VolumeMeter sums batches', () => {
  assert.is(rotationDue({ txSaPackets: 5, txSaBytes: 10, saAgeMs: 1 }), undefined);
  assert.is(rotationDue({ txSaPackets: 2 ** 32, txSaBytes: 0, saAgeMs: 0 }), 'packets');
  assert.is(rotationDue({ txSaPackets: 0, txSaBytes: 2 ** 40, saAgeMs: 0 }), 'bytes');
  assert.is(rotationDue({ saAgeMs: DEFAULT_ROTATION_LIMITS.ageMs }), 'age');
  assert.is(rotationDue({ txSaPackets: 9 }, { packets: 10 }), undefined);
  const m = new VolumeMeter({ packets: 1000, bytes: 1_000_000 }, 0);
  m.add(500, 700_000);
  assert.is(m.due(10), undefined);
  m.add(100, 300_000);
  assert.is(m.due(10), 'bytes');
  m.reset(20);
  assert.is(m.due(20), undefined);
  m.add(1000, 0);
  assert.is(m.due(21), 'packets');
});

test('volume rotation end to end: a session reaching the limit is rotated without loss', () => {
  const x = createCipherWith(libsodiumWrappers());
  const y = createCipherWith(libsodiumWrappers());
  let ring = initialRing(1);
  x.setKeyRing(toKeyRing(ring));
  y.setKeyRing(toKeyRing(ring));
  const xy = x.session('x', 'y');
  const yx = y.session('y', 'x');
  const plain = new Uint8Array(1000);
  const sealed = new Uint8Array(1100);
  const out = new Uint8Array(1100);
  let rotations = 0;
  for (let i = 0; i < 250; i++) {
    const n = xy.seal(plain, plain.length, sealed);
    assert.is(yx.open(sealed, n, out), 1000);
    if (rotationDue(xy.stats, { packets: 100 }) !== undefined) {
      ring = rotate(ring, undefined, ring.rotation);
      y.setKeyRing(toKeyRing(ring)); // receiver first, sender later: both orders are safe
      x.setKeyRing(toKeyRing(ring));
      rotations++;
    }
  }
  assert.is(rotations, 2);
  assert.is(xy.stats['txEpoch'], 4);
  assert.is(yx.stats['rxEpochsSeen'], 3);
  assert.is(yx.stats['dropped'], 0);
});

test.run();
