import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, WeftException, type Store, type WeftError } from '@weft/kernel';
import { parseAddr } from './addr.ts';
import { ipamPlugin, stateOptions } from './plugin.ts';
import { IpamState } from './state.ts';

const opts = stateOptions('ipam', {}, () => []);

/** Pools under test: a v4 /26 with a sub-range, and a v6 /64 (offsets near both ends). */
const POOLS = [
  { req: { AddressSpace: 'LocalDefault', Pool: '10.0.0.0/26' }, base: parseAddr('10.0.0.0')!.value, lo: 1n, hi: 62n, reserved: [0n, 63n], bits: 26 },
  { req: { AddressSpace: 'LocalDefault', Pool: '10.0.0.0/26', SubPool: '10.0.0.32/28' }, base: parseAddr('10.0.0.0')!.value, lo: 32n, hi: 47n, reserved: [0n, 63n], bits: 26 },
  { req: { AddressSpace: 'GlobalDefault', Pool: 'fd00:1::/64', V6: true }, base: parseAddr('fd00:1::')!.value, lo: 1n, hi: (1n << 64n) - 1n, reserved: [0n], bits: 64 },
];

const caught = (f: () => unknown): WeftError | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof WeftException) return e.error;
    throw e;
  }
};

const offsetArb = fc.oneof(fc.bigInt({ min: 0n, max: 70n }), fc.bigInt({ min: (1n << 64n) - 8n, max: (1n << 64n) - 1n }));
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('any' as const), pool: fc.nat(2), serial: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('specific' as const), pool: fc.nat(2), off: offsetArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('release' as const), pool: fc.nat(2), off: offsetArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const) }) },
);

function fmt(base: bigint, off: bigint, v6: boolean): string {
  const v = base + off;
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':');
}

const snapshot = (s: IpamState) => ({
  usage: s.usage(),
  bits: [...s.subnets.values()].map((x) => [...x.bitmap.bits()].map(String)),
  cursors: [...s.subnets.values()].map((x) => String(x.cursor)),
});

test('property: random request/release sequences never duplicate or lose an address, and survive reload', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 120 }), async (ops) => {
      const store: Store = memoryStore();
      let st = await IpamState.load(store, opts);
      const ids = POOLS.map((p) => st.requestPool(p.req).PoolID);
      const models = [new Set<bigint>(), new Set<bigint>()]; // v4 subnet (shared by pool 0 and 1), v6 subnet
      const modelOf = (pool: number) => models[pool === 2 ? 1 : 0]!;
      const usedOf = (pool: number) => BigInt(st.usage(ids[pool]!)[0]!.Used);
      for (const o of ops) {
        if (o.k === 'restart') {
          await st.flush(store);
          const before = snapshot(st);
          st = await IpamState.load(store, opts);
          assert.equal(snapshot(st), before);
          continue;
        }
        const p = POOLS[o.pool]!;
        const model = modelOf(o.pool);
        const v6 = o.pool === 2;
        if (o.k === 'any') {
          let got: string | undefined;
          const e = caught(() => (got = st.requestAddress({ PoolID: ids[o.pool]!, Options: o.serial ? { 'com.docker.network.ipam.serial': 'true' } : {} }).Address));
          if (e !== undefined) {
            assert.is(e.code, 'WEFT_IPAM_POOL_EXHAUSTED');
            for (let x = p.lo; x <= p.hi && x < p.lo + 100n; x++) assert.ok(model.has(x) || p.reserved.includes(x), `free ${x} but exhausted`);
          } else {
            const off = parseAddr(got!.split('/')[0]!)!.value - p.base;
            assert.ok(off >= p.lo && off <= p.hi, `offset ${off} outside [${p.lo}, ${p.hi}]`);
            assert.not.ok(model.has(off), `${got} handed out twice`);
            assert.ok(got!.endsWith(`/${p.bits}`));
            model.add(off);
          }
        } else {
          if (!v6 && o.off > 63n) continue;
          const addr = fmt(p.base, o.off, v6);
          const usedBefore = usedOf(o.pool);
          if (o.k === 'specific') {
            const e = caught(() => st.requestAddress({ PoolID: ids[o.pool]!, Address: addr }));
            if (p.reserved.includes(o.off)) assert.is(e?.code, 'WEFT_IPAM_RESERVED_ADDRESS');
            else if (model.has(o.off)) assert.is(e?.category, 'Conflict');
            else {
              assert.is(e, undefined);
              model.add(o.off);
            }
          } else {
            const e = caught(() => st.releaseAddress({ PoolID: ids[o.pool]!, Address: addr }));
            if (model.has(o.off)) {
              assert.is(e, undefined);
              model.delete(o.off);
            } else {
              assert.ok(e !== undefined && (e.category === 'NotFound' || e.category === 'BadRequest'));
              assert.is(usedOf(o.pool), usedBefore, 'a failed release changed the state');
            }
          }
        }
        assert.is(usedOf(o.pool), BigInt(model.size), 'used count disagrees with the model');
        const u = st.usage(ids[0]!)[0]!;
        assert.is(BigInt(u.Used) + BigInt(u.Free) + BigInt(u.Reserved), BigInt(u.Size));
      }
      await st.flush(store);
      assert.equal(snapshot(await IpamState.load(store, opts)), snapshot(st));
    }),
    { numRuns: 120 },
  );
});

test('property (through the kernel): parallel bursts of requests and releases stay duplicate-free', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(20), fc.nat(20)), { minLength: 1, maxLength: 8 }), async (rounds) => {
      const k = createKernel({ store: memoryStore() });
      const r = await k.load([{ plugin: ipamPlugin() }]);
      assert.ok(!isLeft(r));
      const p = (await k.invoke<{ PoolID: string }>('ipam', 'IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.50.0.0/27' })) as { right: { PoolID: string } };
      const held = new Set<string>();
      for (const [n, m] of rounds) {
        const toRelease = [...held].slice(0, m);
        const res = await Promise.all([
          ...Array.from({ length: n }, () => k.invoke<{ Address: string }>('ipam', 'IpamDriver.RequestAddress', { PoolID: p.right.PoolID, Address: '' })),
          ...toRelease.map((a) => k.invoke('ipam', 'IpamDriver.ReleaseAddress', { PoolID: p.right.PoolID, Address: a })),
        ]);
        for (const a of toRelease) held.delete(a);
        for (const x of res.slice(0, n)) {
          if (isLeft(x)) {
            assert.is(x.left.code, 'WEFT_IPAM_POOL_EXHAUSTED');
            continue;
          }
          const a = (x.right as { Address: string }).Address.split('/')[0]!;
          assert.not.ok(held.has(a), `${a} handed out twice`);
          held.add(a);
        }
        assert.ok(held.size <= 30);
      }
    }),
    { numRuns: 25 },
  );
});

test.run();
