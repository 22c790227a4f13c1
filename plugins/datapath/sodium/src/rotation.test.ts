import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initialRing, rotate, toKeyRing } from '@weft/kernel';
import { rotationDue } from '@weft/envelope';
import { createCipherWith } from './cipher.ts';
import { libsodiumWrappers } from './backend.ts';

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
