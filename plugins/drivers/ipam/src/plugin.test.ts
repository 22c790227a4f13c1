import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, type Kernel, type Store, type WeftError } from '@weft/kernel';
import { ipamPlugin, IpamCodes, type IpamConfig, type IpamPluginOptions, type UtilisationResponse } from './mod.ts';

interface Booted {
  k: Kernel;
  call: (m: string, input: unknown) => Promise<Either<WeftError, any>>;
  ok: (m: string, input: unknown) => Promise<any>;
  fail: (m: string, input: unknown) => Promise<WeftError>;
}

async function boot(store: Store = memoryStore(), config?: IpamConfig, opts: IpamPluginOptions = {}): Promise<Booted> {
  const k = createKernel({ store });
  const r = await k.load([{ plugin: ipamPlugin(opts), config }]);
  if (isLeft(r)) throw new Error(JSON.stringify(r.left));
  const name = opts.name ?? 'ipam';
  const call = (m: string, input: unknown) => k.invoke<any>(name, m.includes('.') ? m : `IpamDriver.${m}`, input);
  return {
    k,
    call,
    ok: async (m, input) => {
      const x = await call(m, input);
      if (isLeft(x)) throw new Error(`${m} failed: ${x.left.message}`);
      return x.right;
    },
    fail: async (m, input) => {
      const x = await call(m, input);
      if (!isLeft(x)) throw new Error(`${m} should fail, got ${JSON.stringify(x.right)}`);
      return x.left;
    },
  };
}

const L = 'LocalDefault';
const G = 'GlobalDefault';
const GW = { RequestAddressType: 'com.docker.network.gateway' };
const SERIAL = { 'com.docker.network.ipam.serial': 'true' };

test('address spaces, capabilities, and the plugin name option', async () => {
  const { ok } = await boot(undefined, undefined, { name: 'weft' });
  assert.equal(await ok('GetDefaultAddressSpaces', ''), { LocalDefaultAddressSpace: L, GlobalDefaultAddressSpace: G });
  assert.equal(await ok('GetCapabilities', ''), { RequiresMACAddress: false, RequiresRequestReplay: false });
  const b = await boot(undefined, { localAddressSpace: 'rdlocal', globalAddressSpace: 'rdglobal' });
  assert.equal(await b.ok('GetDefaultAddressSpaces', ''), { LocalDefaultAddressSpace: 'rdlocal', GlobalDefaultAddressSpace: 'rdglobal' });
  assert.is((await b.fail('RequestPool', { AddressSpace: L, Pool: '' })).code, IpamCodes.unknownSpace);
});

test('predefined local pools: 172.17-31/16 then 192.168/20s, skipping pools and host routes', async () => {
  const routes = ['default via 192.168.1.1 dev eth0', '172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1'];
  const { ok } = await boot(undefined, undefined, { hostRoutes: () => routes });
  await ok('RequestPool', { AddressSpace: L, Pool: '172.19.0.0/24' });
  const pools: string[] = [];
  for (let i = 0; i < 14; i++) pools.push((await ok('RequestPool', { AddressSpace: L, Pool: '' })).Pool);
  assert.is(pools[0], '172.18.0.0/16');
  assert.is(pools[1], '172.20.0.0/16');
  assert.is(pools[12], '172.31.0.0/16');
  assert.is(pools[13], '192.168.0.0/20');
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '' });
  assert.is(p.PoolID, `${L}/192.168.16.0/20`);
});

test('predefined global pools: 10.0.0.0/8 in /24s, overridable like swarm --default-addr-pool', async () => {
  const a = await boot();
  assert.is((await a.ok('RequestPool', { AddressSpace: G, Pool: '' })).Pool, '10.0.0.0/24');
  assert.is((await a.ok('RequestPool', { AddressSpace: G, Pool: '' })).Pool, '10.0.1.0/24');
  const b = await boot(undefined, { defaultAddrPool: ['10.20.0.0/16', '10.30.0.0/16'], defaultAddrPoolMaskLength: 26 });
  assert.is((await b.ok('RequestPool', { AddressSpace: G, Pool: '' })).Pool, '10.20.0.0/26');
  assert.is((await b.ok('RequestPool', { AddressSpace: G, Pool: '10.20.0.64/26' })).Pool, '10.20.0.64/26');
  assert.is((await b.ok('RequestPool', { AddressSpace: G, Pool: '' })).Pool, '10.20.0.128/26');
});

test('running out of predefined pools is Unavailable naming the ranges', async () => {
  const { ok, fail } = await boot(undefined, { localPools: [{ base: '172.30.0.0/23', size: 24 }] });
  await ok('RequestPool', { AddressSpace: L, Pool: '' });
  await ok('RequestPool', { AddressSpace: L, Pool: '' });
  const e = await fail('RequestPool', { AddressSpace: L, Pool: '' });
  assert.is(e.category, 'Unavailable');
  assert.is(e.code, IpamCodes.noPredefinedPool);
  assert.match(e.message, '172.30.0.0/23');
});

test('a bad predefined pool in the config fails the load, naming the field and value', async () => {
  const k = createKernel();
  const r = await k.load([{ plugin: ipamPlugin(), config: { localPools: [{ base: 'fd00::/48', size: 64 }] } }]);
  assert.ok(isLeft(r));
  if (!isLeft(r)) return;
  assert.is(r.left[0]!.code, 'WEFT_KERNEL_BAD_CONFIG');
  assert.match(r.left[0]!.message, 'localPools[0].base "fd00::/48" is not an IPv4 prefix');
  const m = await createKernel().load([{ plugin: ipamPlugin(), config: { defaultAddrPool: ['10.0.0.0/16'], defaultAddrPoolMaskLength: 8 } }]);
  assert.ok(isLeft(m) && m.left[0]!.message.includes('defaultAddrPool[0].size 8'));
  // factory defaults are not decoded by the kernel: they are checked at first use
  const { fail } = await boot(undefined, undefined, { defaults: { globalPools: [{ base: '10.0.0.0/8', size: 4 }] } });
  assert.match((await fail('RequestPool', { AddressSpace: G, Pool: '' })).message, 'globalPools[0].size 4');
});

test('identical requests are reference-counted; overlaps are refused naming the holder', async () => {
  const { ok, fail } = await boot();
  const a = await ok('RequestPool', { AddressSpace: L, Pool: '10.3.0.0/24', Options: { 'com.docker.network.name': 'db' } });
  const b = await ok('RequestPool', { AddressSpace: L, Pool: '10.3.0.0/24', Options: null });
  assert.is(a.PoolID, b.PoolID);
  assert.equal(a, { PoolID: `${L}/10.3.0.0/24`, Pool: '10.3.0.0/24', Data: {} });
  const e = await fail('RequestPool', { AddressSpace: L, Pool: '10.3.0.0/16' });
  assert.is(e.category, 'Conflict');
  assert.is(e.code, IpamCodes.poolOverlap);
  assert.match(e.message, 'Pool "10.3.0.0/16" overlaps pool "10.3.0.0/24" of network "db" (PoolID "LocalDefault/10.3.0.0/24")');
  await ok('RequestPool', { AddressSpace: L, Pool: '10.33.0.0/24' });
  const anon = await fail('RequestPool', { AddressSpace: L, Pool: '10.33.0.128/25' });
  assert.not.match(anon.message, 'network "');
  assert.match(anon.message, 'pool "10.33.0.0/24" (PoolID "LocalDefault/10.33.0.0/24")');
  // address spaces are independent: a manager's global pool is requested again locally on the node
  await ok('RequestPool', { AddressSpace: G, Pool: '10.3.0.0/16' });
  await ok('ReleasePool', { PoolID: a.PoolID });
  await ok('ReleasePool', { PoolID: a.PoolID });
  const gone = await fail('ReleasePool', { PoolID: a.PoolID });
  assert.is(gone.category, 'NotFound');
  assert.match(gone.message, '"LocalDefault/10.3.0.0/24"');
  await ok('RequestPool', { AddressSpace: L, Pool: '10.3.0.0/16' });
});

test('a Pool is normalised; V6 must match the family; SubPool rules', async () => {
  const { ok, fail } = await boot();
  assert.is((await ok('RequestPool', { AddressSpace: L, Pool: '10.5.1.9/16' })).Pool, '10.5.0.0/16');
  assert.is((await fail('RequestPool', { AddressSpace: L, Pool: 'fd00:1::/64' })).code, IpamCodes.badPool);
  const out = await fail('RequestPool', { AddressSpace: L, Pool: '10.6.0.0/24', SubPool: '10.6.1.0/25' });
  assert.is(out.code, IpamCodes.subPoolOutside);
  assert.match(out.message, '"10.6.1.0/25"');
  assert.match(out.message, '"10.6.0.0/24"');
  const none = await fail('RequestPool', { AddressSpace: L, Pool: '', SubPool: '10.6.1.0/25' });
  assert.is(none.category, 'BadRequest');
  assert.is(none.code, IpamCodes.subPoolWithoutPool);
});

test('sub-pools: --ip-range allocation, shared bitmap with the pool, range exhaustion', async () => {
  const { ok, fail } = await boot();
  const master = await ok('RequestPool', { AddressSpace: L, Pool: '10.1.0.0/16' });
  const sub = await ok('RequestPool', { AddressSpace: L, Pool: '10.1.0.0/16', SubPool: '10.1.2.0/24' });
  assert.is(sub.PoolID, `${L}/10.1.0.0/16/10.1.2.0/24`);
  assert.is(sub.Pool, '10.1.0.0/16');
  assert.is((await ok('RequestAddress', { PoolID: sub.PoolID, Address: '' })).Address, '10.1.2.0/16');
  assert.is((await ok('RequestAddress', { PoolID: sub.PoolID, Address: '10.1.200.5' })).Address, '10.1.200.5/16');
  assert.is((await fail('RequestAddress', { PoolID: master.PoolID, Address: '10.1.200.5' })).category, 'Conflict');
  const tiny = await ok('RequestPool', { AddressSpace: L, Pool: '10.2.0.0/24', SubPool: '10.2.0.0/30' });
  for (const want of ['10.2.0.1/24', '10.2.0.2/24', '10.2.0.3/24']) assert.is((await ok('RequestAddress', { PoolID: tiny.PoolID })).Address, want);
  const e = await fail('RequestAddress', { PoolID: tiny.PoolID });
  assert.is(e.category, 'Unavailable');
  assert.is(e.code, IpamCodes.exhausted);
  assert.match(e.message, 'range "10.2.0.0/30" of pool "10.2.0.0/24"');
  assert.match(e.message, '3 allocatable addresses, 3 in use');
});

test('gateways, network and broadcast addresses, specific and duplicate addresses', async () => {
  const { ok, fail } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.4.0.0/24' });
  assert.equal(await ok('RequestAddress', { PoolID: p.PoolID, Address: '', Options: GW }), { Address: '10.4.0.1/24', Data: {} });
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID, Address: '10.4.0.9', Options: null })).Address, '10.4.0.9/24'); // aux
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID })).Address, '10.4.0.2/24');
  const net = await fail('RequestAddress', { PoolID: p.PoolID, Address: '10.4.0.0' });
  assert.is(net.code, IpamCodes.reservedAddress);
  assert.match(net.message, 'network address');
  const bc = await fail('RequestAddress', { PoolID: p.PoolID, Address: '10.4.0.255' });
  assert.match(bc.message, 'broadcast address');
  const dup = await fail('RequestAddress', { PoolID: p.PoolID, Address: '10.4.0.9' });
  assert.is(dup.code, IpamCodes.addressInUse);
  assert.match(dup.message, '"10.4.0.9"');
  const out = await fail('RequestAddress', { PoolID: p.PoolID, Address: '10.5.0.1' });
  assert.is(out.code, IpamCodes.outOfPool);
  assert.match(out.message, '"10.5.0.1" is outside pool "10.4.0.0/24"');
  const bad = await fail('RequestAddress', { PoolID: p.PoolID, Address: 'x' });
  assert.is(bad.category, 'BadRequest');
  const gw2 = await ok('RequestPool', { AddressSpace: L, Pool: '10.4.1.0/24' });
  assert.is((await ok('RequestAddress', { PoolID: gw2.PoolID, Address: '', Options: { ...GW, ...SERIAL } })).Address, '10.4.1.1/24');
  // /31 (RFC 3021): both addresses usable
  const p2p = await ok('RequestPool', { AddressSpace: L, Pool: '10.4.2.0/31' });
  assert.is((await ok('RequestAddress', { PoolID: p2p.PoolID })).Address, '10.4.2.0/31');
  assert.is((await ok('RequestAddress', { PoolID: p2p.PoolID })).Address, '10.4.2.1/31');
});

test('serial allocation is round-robin and wraps; first-free reuses the lowest', async () => {
  const { ok } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.7.0.0/29' });
  const got: string[] = [];
  for (let i = 0; i < 6; i++) got.push((await ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL })).Address);
  assert.equal(got, ['10.7.0.1/29', '10.7.0.2/29', '10.7.0.3/29', '10.7.0.4/29', '10.7.0.5/29', '10.7.0.6/29']);
  await ok('ReleaseAddress', { PoolID: p.PoolID, Address: '10.7.0.2' });
  await ok('ReleaseAddress', { PoolID: p.PoolID, Address: '10.7.0.5' });
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL })).Address, '10.7.0.2/29');
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL })).Address, '10.7.0.5/29');
  const q = await ok('RequestPool', { AddressSpace: L, Pool: '10.7.1.0/24' });
  const a = (await ok('RequestAddress', { PoolID: q.PoolID, Options: SERIAL })).Address;
  await ok('RequestAddress', { PoolID: q.PoolID, Options: SERIAL });
  await ok('ReleaseAddress', { PoolID: q.PoolID, Address: a.split('/')[0] });
  assert.is((await ok('RequestAddress', { PoolID: q.PoolID, Options: SERIAL })).Address, '10.7.1.3/24');
  assert.is((await ok('RequestAddress', { PoolID: q.PoolID })).Address, '10.7.1.1/24');
});

test('releasing what is not allocated is NotFound and changes nothing; masks are accepted', async () => {
  const { ok, fail } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.8.0.0/24' });
  const a = (await ok('RequestAddress', { PoolID: p.PoolID })).Address;
  const e = await fail('ReleaseAddress', { PoolID: p.PoolID, Address: '10.8.0.200' });
  assert.is(e.category, 'NotFound');
  assert.is(e.code, IpamCodes.notAllocated);
  assert.match(e.message, '"10.8.0.200"');
  assert.match(e.message, 'nothing was released');
  const u = (await ok('Ipam.Utilisation', { PoolID: p.PoolID })) as UtilisationResponse;
  assert.is(u.Pools[0]!.Used, '1');
  await ok('ReleaseAddress', { PoolID: p.PoolID, Address: a }); // with /24
  assert.is((await fail('ReleaseAddress', { PoolID: p.PoolID, Address: a })).category, 'NotFound');
  assert.is((await fail('ReleaseAddress', { PoolID: 'nope', Address: '10.8.0.1' })).code, IpamCodes.unknownPool);
});

test('exhaustion is Unavailable quoting pool, size and use', async () => {
  const { ok, fail } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.9.0.0/30' });
  await ok('RequestAddress', { PoolID: p.PoolID });
  await ok('RequestAddress', { PoolID: p.PoolID });
  const e = await fail('RequestAddress', { PoolID: p.PoolID });
  assert.is(e.category, 'Unavailable');
  assert.match(e.message, 'pool "10.9.0.0/30" (PoolID "LocalDefault/10.9.0.0/30"): 2 allocatable addresses, 2 in use');
});

test('IPv6: predefined ULA /64s, ::1 gateway, sequential, addresses anywhere in the /64', async () => {
  const { ok, fail } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '', V6: true });
  assert.is(p.Pool, 'fd57:6566:7401::/64');
  assert.is((await ok('RequestPool', { AddressSpace: G, Pool: '', V6: true })).Pool, 'fd57:6566:7400::/64');
  assert.is((await ok('RequestPool', { AddressSpace: L, Pool: '', V6: true })).Pool, 'fd57:6566:7401:1::/64');
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID, Options: GW })).Address, 'fd57:6566:7401::1/64');
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID })).Address, 'fd57:6566:7401::2/64');
  const far = 'fd57:6566:7401:0:ffff:ffff:ffff:ffff';
  assert.is((await ok('RequestAddress', { PoolID: p.PoolID, Address: far })).Address, `${far}/64`);
  assert.is((await fail('RequestAddress', { PoolID: p.PoolID, Address: far })).category, 'Conflict');
  assert.is((await fail('RequestAddress', { PoolID: p.PoolID, Address: 'fd57:6566:7401::' })).code, IpamCodes.reservedAddress);
  await ok('ReleaseAddress', { PoolID: p.PoolID, Address: far });
  const u = (await ok('Ipam.Utilisation', { PoolID: p.PoolID })) as UtilisationResponse;
  assert.equal([u.Pools[0]!.Size, u.Pools[0]!.Used, u.Pools[0]!.Free], ['18446744073709551616', '2', '18446744073709551613']);
  const wide = await ok('RequestPool', { AddressSpace: L, Pool: 'fd99::/48', V6: true });
  assert.is((await ok('RequestAddress', { PoolID: wide.PoolID })).Address, 'fd99::1/48');
});

test('Ipam.Utilisation reports used/total per pool and per sub-range', async () => {
  const { ok } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.10.0.0/24', Options: { 'weft.network.name': 'web' } });
  const s = await ok('RequestPool', { AddressSpace: L, Pool: '10.10.0.0/24', SubPool: '10.10.0.128/26' });
  await ok('RequestAddress', { PoolID: p.PoolID, Options: GW });
  for (let i = 0; i < 3; i++) await ok('RequestAddress', { PoolID: s.PoolID });
  const u = (await ok('Ipam.Utilisation', {})) as UtilisationResponse;
  assert.equal(u.Pools, [
    {
      PoolID: `${L}/10.10.0.0/24`,
      AddressSpace: L,
      Pool: '10.10.0.0/24',
      V6: false,
      Network: 'web',
      RefCount: 1,
      Size: '256',
      Reserved: '2',
      Used: '4',
      Free: '250',
      SubPools: [{ PoolID: s.PoolID, SubPool: '10.10.0.128/26', RefCount: 1, Size: '64', Used: '3', Free: '61' }],
    },
  ]);
});

test('parallel requests never get the same address', async () => {
  const { ok } = await boot();
  const p = await ok('RequestPool', { AddressSpace: L, Pool: '10.11.0.0/24' });
  const got = await Promise.all(Array.from({ length: 60 }, () => ok('RequestAddress', { PoolID: p.PoolID })));
  assert.is(new Set(got.map((g) => g.Address)).size, 60);
});

test('state survives a restart: pools, refcounts, sub-pools, addresses and the serial cursor', async () => {
  const store = memoryStore();
  const a = await boot(store);
  const p = await a.ok('RequestPool', { AddressSpace: L, Pool: '10.12.0.0/24' });
  await a.ok('RequestPool', { AddressSpace: L, Pool: '10.12.0.0/24' });
  const s = await a.ok('RequestPool', { AddressSpace: L, Pool: '10.12.0.0/24', SubPool: '10.12.0.64/26' });
  await a.ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL });
  await a.ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL });
  await a.ok('ReleaseAddress', { PoolID: p.PoolID, Address: '10.12.0.1' });
  await a.ok('RequestAddress', { PoolID: s.PoolID });
  const before = await a.ok('Ipam.Utilisation', {});
  await a.k.stop();
  const b = await boot(store);
  assert.equal(await b.ok('Ipam.Utilisation', {}), before);
  assert.is((await b.ok('RequestAddress', { PoolID: p.PoolID, Options: SERIAL })).Address, '10.12.0.3/24');
  assert.is((await b.fail('RequestAddress', { PoolID: s.PoolID, Address: '10.12.0.64' })).category, 'Conflict');
  await b.ok('ReleasePool', { PoolID: p.PoolID });
  await b.ok('ReleasePool', { PoolID: p.PoolID });
  await b.ok('ReleasePool', { PoolID: s.PoolID });
  assert.equal(await store.keys(), []);
});

test('a corrupt or torn record is an Internal error naming the key, on every call, never reset', async () => {
  const backing = new Map<string, Uint8Array>();
  const store = memoryStore(backing);
  const a = await boot(store);
  const p = await a.ok('RequestPool', { AddressSpace: L, Pool: '10.13.0.0/24' });
  await a.ok('RequestAddress', { PoolID: p.PoolID });
  const key = [...backing.keys()].find((k) => k.includes('/c/'))!;
  const good = backing.get(key)!;
  const bad = good.slice();
  bad[bad.length - 1]! ^= 0x10;
  backing.set(key, bad);
  const b = await boot(store);
  for (let i = 0; i < 2; i++) {
    const e = await b.fail('RequestAddress', { PoolID: p.PoolID });
    assert.is(e.category, 'Internal');
    assert.is(e.code, IpamCodes.corrupt);
    assert.match(e.message, `"${key.slice('ipam/'.length)}"`);
    assert.match(e.message, 'checksum');
  }
  assert.is(backing.get(key), bad, 'the damaged record must be left for inspection');
  backing.set(key, good.slice(0, 10));
  const c = await boot(store);
  assert.match((await c.fail('Ipam.Utilisation', {})).message, 'torn');
  backing.set(key, good);
  const d = await boot(store);
  assert.is((await d.ok('RequestAddress', { PoolID: p.PoolID })).Address, '10.13.0.2/24');
});

test('chunks orphaned by a crash inside ReleasePool are collected at load', async () => {
  const backing = new Map<string, Uint8Array>();
  const store = memoryStore(backing);
  const a = await boot(store);
  const p = await a.ok('RequestPool', { AddressSpace: L, Pool: '10.14.0.0/24' });
  await a.ok('RequestAddress', { PoolID: p.PoolID });
  const chunk = [...backing.entries()].find(([k]) => k.includes('/c/'))!;
  await a.ok('ReleasePool', { PoolID: p.PoolID });
  backing.set(chunk[0], chunk[1]); // as if the crash hit between the meta delete and the chunk delete
  const b = await boot(store);
  const q = await b.ok('RequestPool', { AddressSpace: L, Pool: '10.14.0.0/24' });
  assert.is((await b.ok('RequestAddress', { PoolID: q.PoolID })).Address, '10.14.0.1/24');
  assert.not.ok(backing.has(chunk[0]));
});

test('a store that fails a write: the call fails, nothing is acknowledged, state reloads', async () => {
  const backing = new Map<string, Uint8Array>();
  const inner = memoryStore(backing);
  let failNext = false;
  const flaky: Store = {
    ...inner,
    scope(prefix) {
      const s = inner.scope(prefix);
      return { ...s, put: async (k, v) => { if (failNext) { failNext = false; throw new Error('disk full'); } return s.put(k, v); } };
    },
  };
  const a = await boot(flaky);
  const p = await a.ok('RequestPool', { AddressSpace: L, Pool: '10.15.0.0/24' });
  failNext = true;
  const e = await a.fail('RequestAddress', { PoolID: p.PoolID });
  assert.is(e.code, IpamCodes.storeFailed);
  assert.match(e.message, 'disk full');
  assert.is((await a.ok('RequestAddress', { PoolID: p.PoolID })).Address, '10.15.0.1/24');
});

test.run();
