import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  checksumAdd, checksumAdd16, checksumAdd32, checksumFinish, checksumFold, internetChecksum, checksumUpdate16, checksumUpdate32,
} from './checksum.ts';
import { hex, referenceChecksum } from './_testutil.ts';

test('RFC 1071 §3 numerical example', () => {
  // Bytes 00 01 f2 03 f4 f5 f6 f7: one's complement sum ddf2, checksum 220d.
  const b = hex('0001 f203 f4f5 f6f7');
  assert.is(checksumFold(checksumAdd(0, b, 0, b.length)), 0xddf2);
  assert.is(internetChecksum(b), 0x220d);
});

test('odd length pads with a zero byte; ranges and words compose', () => {
  const b = hex('0102 03');
  assert.is(internetChecksum(b), referenceChecksum(hex('0102 0300')));
  const c = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
  let s = checksumAdd(0, c, 0, 10);
  s = checksumAdd(s, c, 10, 20);
  assert.is(checksumFinish(s), 0xb861);
  assert.is(checksumFinish(checksumAdd32(checksumAdd16(0, 0x1234), 0xabcd0001)), referenceChecksum(hex('1234 abcd 0001')));
  assert.is(internetChecksum(new Uint8Array(0)), 0xffff);
});

test('RFC 1624 incremental update matches recomputation (TTL decrement)', () => {
  const h = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
  const old = (h[8]! << 8) | h[9]!;
  h[8] = h[8]! - 1;
  const updated = checksumUpdate16(0xb861, old, (h[8]! << 8) | h[9]!);
  h[10] = 0;
  h[11] = 0;
  assert.is(updated, internetChecksum(h));
});

test('property: checksumAdd equals the naive reference; splitting at even offsets is free', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (b, cut) => {
      const ref = referenceChecksum(b);
      assert.is(internetChecksum(b), ref);
      const k = Math.min(b.length, cut % (b.length + 1)) & ~1;
      assert.is(checksumFinish(checksumAdd(checksumAdd(0, b, 0, k), b, k, b.length)), ref);
    }),
  );
});

test('property: storing the checksum makes the total verify to zero', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }).filter((b) => b.length % 2 === 0), (b) => {
      b[0] = 0;
      b[1] = 0;
      const c = internetChecksum(b);
      b[0] = c >> 8;
      b[1] = c & 255;
      assert.is(internetChecksum(b), 0);
    }),
  );
});

test('property: incremental updates match recomputation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (b, pos, nv) => {
      if (b.length % 2 === 1) return;
      b[0] = 0;
      b[1] = 0;
      const c = internetChecksum(b);
      const i = 2 + ((pos % ((b.length - 4) / 2 - 0)) | 0) * 2;
      if (i + 4 > b.length) return;
      const old32 = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
      const upd = checksumUpdate32(c, old32, nv);
      b[i] = nv >>> 24; b[i + 1] = nv >>> 16; b[i + 2] = nv >>> 8; b[i + 3] = nv;
      // One's complement has two zeros; compare verification results rather than raw values.
      b[0] = upd >> 8;
      b[1] = upd & 255;
      assert.is(checksumFold(checksumAdd(0, b, 0, b.length)), 0xffff);
    }),
  );
});

test.run();
