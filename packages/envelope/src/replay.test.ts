import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplayWindow } from './replay.ts';

const TWO32 = 4294967296;
const split = (n: number): [number, number] => [Math.floor(n / TWO32), n % TWO32];
const ok = (w: ReplayWindow, n: number): boolean => w.check(...split(n));
const take = (w: ReplayWindow, n: number): boolean => {
  if (!w.check(...split(n))) return false;
  w.accept(...split(n));
  return true;
};

test('sizes: powers of two from 2^10 to 2^24 only', () => {
  for (const bad of [0, 1000, 512, 3 << 12, 1 << 25, 1.5]) assert.throws(() => new ReplayWindow(bad), /power of two/);
  assert.is(new ReplayWindow().size, 1 << 16);
});

test('first packet at any seq is accepted; duplicates are not', () => {
  const w = new ReplayWindow(1024);
  assert.is(w.top, -1n);
  assert.ok(take(w, 2 ** 50 + 7));
  assert.is(w.top, BigInt(2 ** 50 + 7));
  assert.not.ok(take(w, 2 ** 50 + 7));
});

test('the window slides across the 2^32 boundary of the low half', () => {
  const w = new ReplayWindow(1024);
  const base = TWO32 - 600;
  for (let i = 0; i < 1200; i += 2) assert.ok(take(w, base + i), `even ${i}`);
  for (let i = 1; i < 1200; i += 2) {
    const inWindow = base + 1198 - (base + i) < 1024;
    assert.is(take(w, base + i), inWindow, `odd ${i}`);
  }
  assert.is(w.top, BigInt(base + 1199));
});

test('a jump of more than the window clears it; exactly size behind is too old', () => {
  const w = new ReplayWindow(1024);
  for (let i = 0; i < 100; i++) take(w, 1000 + i);
  assert.ok(take(w, 1000 + 99 + 5000));
  assert.not.ok(ok(w, 1000 + 99 + 5000 - 1024), 'size behind');
  assert.ok(ok(w, 1000 + 99 + 5000 - 1023), 'size-1 behind, never seen');
  assert.ok(take(w, 1000 + 99 + 4000));
  assert.not.ok(take(w, 1000 + 99 + 4000));
});

test('randomised against a Set model (64-bit seqs near 2^63)', () => {
  const size = 1024;
  const w = new ReplayWindow(size);
  const seen = new Set<number>();
  let top = -1;
  const base = 2 ** 52; // exact doubles; hi half ≈ 2^20
  let x = 12345;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0) % 3000);
  let cur = 0;
  for (let i = 0; i < 20000; i++) {
    const r = rnd();
    cur += r < 2000 ? 1 : r < 2990 ? -(r - 2000) : 3000;
    if (cur < 0) cur = 0;
    const s = base + cur;
    const expect = !seen.has(s) && (top < 0 || s > top || top - s < size);
    assert.is(take(w, s), expect, `step ${i} seq +${cur}`);
    if (expect) {
      seen.add(s);
      if (s > top) top = s;
    }
  }
});

test.run();
