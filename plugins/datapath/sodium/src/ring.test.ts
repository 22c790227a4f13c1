import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KeyRing } from '@weft/kernel';
import { createCipher } from './cipher.ts';
import { testKey } from '@weft/testing';

test('onKeyRing: the installed ring at once and after each change (copies), not for the same ring again; unsubscribe', async () => {
  const c = await createCipher({ backend: 'libsodium-wrappers' });
  const seen: KeyRing[] = [];
  const off = c.onKeyRing((r) => seen.push(r));
  assert.is(seen.length, 0, 'no ring yet');
  const r1: KeyRing = { keys: [testKey(1), testKey(2)], primary: 0 };
  c.setKeyRing(r1);
  assert.is(seen.length, 1);
  assert.equal(seen[0]!.keys.map((k) => k.epoch), [1, 2]);
  assert.is(seen[0]!.primary, 0);
  assert.equal([...seen[0]!.keys[0]!.key], [...r1.keys[0]!.key]);
  assert.is.not(seen[0]!.keys[0]!.key, r1.keys[0]!.key, 'a copy');
  c.setKeyRing(r1);
  assert.is(seen.length, 1, 'same ring again: no call');
  c.setKeyRing({ ...r1, primary: 1 });
  assert.is(seen.length, 2);
  const late: KeyRing[] = [];
  c.onKeyRing((r) => late.push(r));
  assert.is(late.length, 1, 'a late subscriber gets the current ring');
  assert.is(late[0]!.primary, 1);
  off();
  c.setKeyRing({ keys: [testKey(2), testKey(3)], primary: 0 });
  assert.is(seen.length, 2, 'unsubscribed');
  assert.is(late.length, 2);
  c.close();
});

test.run();
