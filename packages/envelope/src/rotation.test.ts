import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_ROTATION_LIMITS, rotationDue, VolumeMeter } from './rotation.ts';
import { ringProblem } from './cipher.ts';
import { initialRing, toKeyRing } from '@weft/kernel';

test('an initial ring from the kernel is a valid ring', () => {
  assert.is(ringProblem(toKeyRing(initialRing(10))), undefined);
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

test.run();
