import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { crc32, crc32Parts } from './crc32.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('the standard check value and known vectors', () => {
  assert.is(crc32(enc('123456789')), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
  assert.is(crc32(enc('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  assert.is(crc32(enc('xx123456789yy'), 2, 11), 0xcbf43926, 'a range');
});

test('parts equal the whole', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (parts) => {
      const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        whole.set(p, o);
        o += p.length;
      }
      return crc32Parts(parts) === crc32(whole);
    }),
  );
});

test.run();
