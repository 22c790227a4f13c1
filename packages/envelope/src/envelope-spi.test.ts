import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { normalizeSpi, VXLAN_HEADER_WORD } from './envelope.ts';

test('reserved SPIs and the plaintext VXLAN header word are never produced', () => {
  assert.is(normalizeSpi(0), 256);
  assert.is(normalizeSpi(255), 511);
  assert.is(normalizeSpi(VXLAN_HEADER_WORD), 0x08000001);
  assert.is(normalizeSpi(0x12345678), 0x12345678);
  assert.is(normalizeSpi(0xffffffff), 0xffffffff);
  for (let i = 0; i < 256; i++) assert.ok(normalizeSpi(i) >= 256);
});

test.run();
