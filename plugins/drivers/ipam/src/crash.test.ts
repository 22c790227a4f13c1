import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, type Store } from '@weft/kernel';
import { ipamPlugin } from './plugin.ts';

/** A store that dies after `budget` mutations: every later put/delete throws, nothing more lands. */
function dyingStore(backing: Map<string, Uint8Array>, budget: number): Store {
  let left = budget;
  const wrap = (s: Store): Store => ({
    get: (k) => s.get(k),
    keys: (p) => s.keys(p),
    put: async (k, v) => {
      if (left-- <= 0) throw new Error('crashed');
      return s.put(k, v);
    },
    delete: async (k) => {
      if (left-- <= 0) throw new Error('crashed');
      return s.delete(k);
    },
    scope: (p) => wrap(s.scope(p)),
  });
  return wrap(memoryStore(backing));
}

type Step = readonly [string, Record<string, unknown>];
const L = 'LocalDefault';
const P = `${L}/10.60.0.0/24`;
const S = `${L}/10.60.0.0/24/10.60.0.128/25`;
const script: Step[] = [
  ['RequestPool', { AddressSpace: L, Pool: '10.60.0.0/24' }],
  ['RequestAddress', { PoolID: P, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } }],
  ['RequestPool', { AddressSpace: L, Pool: '10.60.0.0/24', SubPool: '10.60.0.128/25' }],
  ['RequestAddress', { PoolID: S, Address: '' }],
  ['RequestAddress', { PoolID: P, Address: '10.60.0.77' }],
  ['RequestAddress', { PoolID: P, Address: '', Options: { 'com.docker.network.ipam.serial': 'true' } }],
  ['ReleaseAddress', { PoolID: P, Address: '10.60.0.77' }],
  ['ReleaseAddress', { PoolID: S, Address: '10.60.0.128' }],
  ['ReleasePool', { PoolID: S }],
  ['RequestPool', { AddressSpace: L, Pool: '10.61.0.0/16' }],
  ['RequestAddress', { PoolID: `${L}/10.61.0.0/16`, Address: '10.61.200.1' }],
  ['ReleaseAddress', { PoolID: P, Address: '10.60.0.1' }],
  ['ReleasePool', { PoolID: P }],
];

test('a crash after any number of writes leaves a loadable state holding every acknowledged change', async () => {
  for (let budget = 0; budget <= 20; budget++) {
    const backing = new Map<string, Uint8Array>();
    const k = createKernel({ store: dyingStore(backing, budget) });
    assert.ok(!isLeft(await k.load([{ plugin: ipamPlugin() }])));
    const held = new Map<string, Set<string>>(); // PoolID → acknowledged addresses
    const pools = new Set<string>();
    for (const [m, input] of script) {
      const r = await k.invoke<Record<string, string>>('ipam', `IpamDriver.${m}`, input);
      if (isLeft(r)) break; // the crash: nothing after this point happened
      const pid = String(input.PoolID ?? '');
      if (m === 'RequestPool') pools.add(r.right.PoolID!);
      if (m === 'ReleasePool') pools.delete(pid);
      if (m === 'RequestAddress') (held.get(pid) ?? held.set(pid, new Set()).get(pid)!).add(r.right.Address!.split('/')[0]!);
      if (m === 'ReleaseAddress') held.get(pid)?.delete(String(input.Address));
    }
    // Restart over what reached the store.
    const k2 = createKernel({ store: memoryStore(backing) });
    assert.ok(!isLeft(await k2.load([{ plugin: ipamPlugin() }])));
    const u = await k2.invoke<{ Pools: { PoolID: string }[] }>('ipam', 'Ipam.Utilisation', {});
    assert.ok(!isLeft(u), `budget ${budget}: ${JSON.stringify(u)}`);
    for (const pid of pools) {
      for (const a of held.get(pid) ?? []) {
        const again = await k2.invoke('ipam', 'IpamDriver.RequestAddress', { PoolID: pid, Address: a });
        assert.ok(isLeft(again) && again.left.category === 'Conflict', `budget ${budget}: ${a} in ${pid} was acknowledged but lost`);
      }
    }
    for (const key of backing.keys()) assert.ok(/^ipam\/s\/[0-9a-f]{8}\/(m|c\/[0-9a-f]+)$/.test(key), key);
  }
});

test.run();
