import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDecipheriv, createHmac } from 'node:crypto';
import { OVERHEAD, normalizeSpi, saInfo } from '@weft/envelope';
import { testKey, testRing } from '@weft/testing';
import { createAesGcmCipher } from './cipher.ts';

const hmac = (key: Uint8Array, msg: Uint8Array): Buffer => createHmac('sha256', key).update(msg).digest();

test('the envelope is SPI ‖ seq ‖ AES-256-GCM(header as nonce and AD) ‖ tag, keys from HMAC-SHA-256 under the weft-gcm labels (independent re-derivation)', () => {
  const c = createAesGcmCipher({ now: () => 1_700_000_000_000 });
  const ring = testRing(1); // primary = epoch 2
  c.setKeyRing(ring);
  const s = c.session('10.0.0.1', '10.0.0.2');
  const plain = new TextEncoder().encode('an inner Ethernet frame, more or less');
  const out = new Uint8Array(plain.length + OVERHEAD);
  assert.is(s.seal(plain, plain.length, out), plain.length + 28);
  const dk = testKey(2).key;
  const saKey = hmac(dk, saInfo('weft-gcm-key-v1', 2, '10.0.0.1', '10.0.0.2'));
  const spiK = hmac(dk, new TextEncoder().encode('weft-gcm-spik-v1'));
  const h = hmac(spiK, saInfo('weft-gcm-spi-v1', 2, '10.0.0.1', '10.0.0.2'));
  const spi = normalizeSpi(h.readUInt32BE(0));
  const view = Buffer.from(out);
  assert.is(view.readUInt32BE(0), spi, 'SPI');
  // seq starts at now_ms × 2^22 (WIRE.md "Sequence numbers").
  assert.is(view.readBigUInt64BE(4), 1_700_000_000_000n * 4194304n, 'sequence number');
  const header = view.subarray(0, 12);
  const d = createDecipheriv('aes-256-gcm', saKey, header, { authTagLength: 16 });
  d.setAAD(header);
  d.setAuthTag(view.subarray(12 + plain.length));
  const m = Buffer.concat([d.update(view.subarray(12, 12 + plain.length)), d.final()]);
  assert.equal(new Uint8Array(m), plain);
  c.close();
});

test('one data key gives different SA keys to aes-gcm and sodium-style labels: the ciphers never share a key stream', () => {
  const dk = testKey(7).key;
  assert.not.equal(hmac(dk, saInfo('weft-gcm-key-v1', 7, 'a', 'b')), hmac(dk, saInfo('weft-esp-key-v1', 7, 'a', 'b')));
});

test('bad rings and windows are refused with the plugin name and the bad value', () => {
  assert.throws(() => createAesGcmCipher({ replayWindow: 1000 }), /^aes-gcm: replay window 1000 must be a power of two/);
  const c = createAesGcmCipher();
  assert.throws(() => c.setKeyRing({ keys: [], primary: 0 }), /aes-gcm: key ring has 0 keys/);
  assert.throws(() => c.setKeyRing({ keys: [{ epoch: 1, key: new Uint8Array(8) }], primary: 0 }), /aes-gcm: key of epoch 1 is 8 bytes/);
  c.close();
  assert.throws(() => c.session('a', 'b'), /aes-gcm: cipher is closed/);
});

test.run();
