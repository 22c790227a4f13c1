import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AddressBitmap, CHUNK_BITS, Reader, decodeWords, encodeWords } from './bitmap.ts';
import { decodeRecord, encodeRecord, RecordKind } from './record.ts';

test('set, unset, find-first-free across words and chunks', () => {
  const b = new AddressBitmap(BigInt(CHUNK_BITS * 3));
  for (let i = 0; i < CHUNK_BITS + 40; i++) assert.ok(b.set(i));
  assert.is(b.findFree(0, CHUNK_BITS * 3 - 1), CHUNK_BITS + 40);
  assert.not.ok(b.set(5));
  assert.ok(b.unset(5));
  assert.not.ok(b.unset(5));
  assert.is(b.findFree(0, CHUNK_BITS * 3 - 1), 5);
  assert.is(b.findFree(0, CHUNK_BITS * 3 - 1, 6), CHUNK_BITS + 40);
  assert.is(b.findFree(10, 20), -1);
  assert.is(b.count, CHUNK_BITS + 39);
  assert.is(b.countRange(0n, 63n), 63n);
});

test('a /64-sized bitmap is sparse and takes bigint offsets', () => {
  const b = new AddressBitmap(1n << 64n);
  const far = (1n << 64n) - 2n;
  assert.ok(b.setBig(far));
  assert.ok(b.hasBig(far));
  assert.is(b.findFreeBig(far - 1n, far + 1n, far), far + 1n);
  assert.is(b.findFreeBig(1n, 10n), 1n);
  assert.is(b.chunkIndices().length, 1);
});

test('property: the bitmap agrees with a set model (windows around chunk boundaries)', () => {
  const size = CHUNK_BITS * 2 + 100;
  const windows = [0, CHUNK_BITS - 64, CHUNK_BITS * 2 - 32];
  const pos = fc.tuple(fc.constantFrom(...windows), fc.nat(150)).map(([w, d]) => Math.min(w + d, size - 1));
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), at: pos }),
    fc.record({ k: fc.constant('unset' as const), at: pos }),
    fc.record({ k: fc.constant('find' as const), at: pos, len: fc.nat(200), from: fc.nat(200) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const b = new AddressBitmap(BigInt(size));
      const model = new Set<number>();
      for (const o of ops) {
        if (o.k === 'set') assert.is(b.set(o.at), !model.has(o.at)), model.add(o.at);
        else if (o.k === 'unset') assert.is(b.unset(o.at), model.delete(o.at));
        else {
          const lo = o.at;
          const hi = Math.min(size - 1, lo + o.len);
          const from = Math.min(hi, lo + o.from);
          let want = -1;
          for (let i = from; i <= hi && want < 0; i++) if (!model.has(i)) want = i;
          for (let i = lo; i < from && want < 0; i++) if (!model.has(i)) want = i;
          assert.is(b.findFree(lo, hi, from), want);
        }
      }
      assert.is(b.count, model.size);
      assert.equal([...b.bits()].map(Number), [...model].sort((x, y) => x - y));
    }),
    { numRuns: 150 },
  );
});

test('property: run-length encoding of chunk words round-trips', () => {
  const word = fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
  fc.assert(
    fc.property(fc.array(fc.tuple(word, fc.integer({ min: 1, max: 40 })), { maxLength: 40 }), (runs) => {
      const words = Uint32Array.from(runs.flatMap(([w, n]) => Array<number>(n).fill(w)));
      const out: number[] = [];
      encodeWords(out, words);
      const r = new Reader(Uint8Array.from(out));
      assert.equal([...decodeWords(r, words.length)], [...words]);
      assert.ok(r.done);
      assert.ok(out.length <= words.length * 4 + 4 + Math.ceil(words.length / 2) * 2);
    }),
  );
});

test('records: torn, foreign-key and bit-flipped records are detected', () => {
  const rec = encodeRecord('s/1/m', RecordKind.meta, new Uint8Array([1, 2, 3]));
  assert.ok(decodeRecord('s/1/m', RecordKind.meta, rec).ok);
  const torn = decodeRecord('s/1/m', RecordKind.meta, rec.slice(0, rec.length - 1));
  assert.ok(!torn.ok && torn.reason.includes('torn'));
  assert.ok(!decodeRecord('s/2/m', RecordKind.meta, rec).ok);
  const flipped = rec.slice();
  flipped[17]! ^= 4;
  const f = decodeRecord('s/1/m', RecordKind.meta, flipped);
  assert.ok(!f.ok && f.reason.includes('checksum'));
  assert.ok(!decodeRecord('s/1/m', RecordKind.chunk, rec).ok);
});

test.run();
