/**
 * `testStore`: the conformance suite of the kernel's `Store` contract (contracts/store.ts), which
 * every store — the kernel's memoryStore, @weft/store's file store, a third party's — must pass.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Store } from '@weft/kernel';

export interface StoreSuiteOptions {
  /** A fresh, empty store for each test. */
  readonly create: () => Store | Promise<Store>;
  /**
   * A new instance over the same backing as the last `create()` (a restart). When given, the
   * suite checks that what was put or deleted before is still so afterwards.
   */
  readonly reopen?: () => Store | Promise<Store>;
  /** Undo what `create` made (e.g. remove its directory), after each test. */
  readonly cleanup?: () => void | Promise<void>;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

export function testStore(name: string, opts: StoreSuiteOptions): void {
  const s = suite(`Store conformance: ${name}`);
  let store: Store;
  s.before.each(async () => {
    store = await opts.create();
  });
  s.after.each(async () => {
    await opts.cleanup?.();
  });

  s('get of a missing key is undefined; put then get returns the bytes; put replaces', async () => {
    assert.is(await store.get('missing'), undefined);
    await store.put('k', enc('one'));
    assert.is(dec(await store.get('k')), 'one');
    await store.put('k', enc('two'));
    assert.is(dec(await store.get('k')), 'two');
    await store.put('empty', new Uint8Array(0));
    const e = await store.get('empty');
    assert.ok(e !== undefined && e.length === 0, 'an empty value is a value, not a missing key');
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 255);
    await store.put('big', big);
    assert.equal(await store.get('big'), big, 'a 1 MiB value round-trips');
  });

  s('values are snapshots: changing the buffer after put, or the one get returned, changes nothing', async () => {
    const v = enc('abc');
    await store.put('k', v);
    v[0] = 0x7a;
    assert.is(dec(await store.get('k')), 'abc');
    const got = (await store.get('k'))!;
    got[0] = 0x7a;
    assert.is(dec(await store.get('k')), 'abc');
  });

  s('delete answers whether the key existed, and the key is gone', async () => {
    assert.is(await store.delete('k'), false);
    await store.put('k', enc('v'));
    assert.is(await store.delete('k'), true);
    assert.is(await store.get('k'), undefined);
    assert.is(await store.delete('k'), false);
    assert.equal(await store.keys(), []);
  });

  s('keys are sorted, and a prefix is a plain string prefix (not a path segment)', async () => {
    const all = ['b', 'a/b', 'a', 'endpoints/n1/e2', 'endpoints/n1/e1', 'endpoints/n10/e3', 'A', 'a-b', 'a.b', 'a0', 'x y', 'ü'];
    for (const k of all) await store.put(k, enc(k));
    const sorted = [...all].sort();
    assert.equal(await store.keys(), sorted);
    assert.equal(await store.keys(''), sorted);
    assert.equal(await store.keys('endpoints/n1/'), ['endpoints/n1/e1', 'endpoints/n1/e2']);
    assert.equal(await store.keys('endpoints/n1'), ['endpoints/n1/e1', 'endpoints/n1/e2', 'endpoints/n10/e3']);
    assert.equal(await store.keys('a'), sorted.filter((k) => k.startsWith('a')));
    assert.equal(await store.keys('nothing/'), []);
    for (const k of all) assert.is(dec(await store.get(k)), k, `key ${JSON.stringify(k)} round-trips`);
  });

  s('keys with awkward characters stay keys (no escaping out of the store)', async () => {
    const odd = ['../up', './dot', 'a//b', '%2F', 'colon:x', 'star*', 'tab\tkey', 'back\\slash', '.hidden', 'trailing/'];
    for (const k of odd) await store.put(k, enc(k));
    assert.equal(await store.keys(), [...odd].sort());
    for (const k of odd) assert.is(dec(await store.get(k)), k, `key ${JSON.stringify(k)}`);
  });

  s('scope(p) is a view under "p/": its keys are relative, its writes are visible from the parent', async () => {
    const ipam = store.scope('ipam');
    await ipam.put('pools/p1', enc('1'));
    await store.put('ipamx/other', enc('2'));
    await store.put('ipam', enc('3'));
    assert.equal(await ipam.keys(), ['pools/p1']);
    assert.equal(await ipam.keys('pools/'), ['pools/p1']);
    assert.is(dec(await store.get('ipam/pools/p1')), '1');
    await store.put('ipam/pools/p2', enc('4'));
    assert.is(dec(await ipam.get('pools/p2')), '4');
    const nested = ipam.scope('pools');
    assert.equal(await nested.keys(), ['p1', 'p2']);
    assert.is(await nested.delete('p1'), true);
    assert.is(await store.get('ipam/pools/p1'), undefined);
    assert.equal(await store.keys(), ['ipam', 'ipam/pools/p2', 'ipamx/other']);
    assert.equal(await store.scope('other').keys(), []);
  });

  s('concurrent puts all land; concurrent puts to one key leave one of the values whole', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.put(`many/${String(i).padStart(2, '0')}`, enc(`v${i}`))));
    assert.equal(await store.keys('many/'), Array.from({ length: 40 }, (_, i) => `many/${String(i).padStart(2, '0')}`));
    const values = Array.from({ length: 10 }, (_, i) => `value-${i}-${'x'.repeat(1000 * i)}`);
    await Promise.all(values.map((v) => store.put('same', enc(v))));
    assert.ok(values.includes(dec(await store.get('same'))!), 'the key holds one of the values written, not a mix');
  });

  if (opts.reopen !== undefined) {
    const reopen = opts.reopen;
    s('durable: after reopening, puts and deletes are as they were', async () => {
      await store.put('kept', enc('1'));
      await store.put('gone', enc('2'));
      await store.scope('sc').put('k', enc('3'));
      assert.is(await store.delete('gone'), true);
      const again = await reopen();
      assert.is(dec(await again.get('kept')), '1');
      assert.is(await again.get('gone'), undefined);
      assert.is(dec(await again.scope('sc').get('k')), '3');
      assert.equal(await again.keys(), ['kept', 'sc/k']);
    });
  }

  s.run();
}
