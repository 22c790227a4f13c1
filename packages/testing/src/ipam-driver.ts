/**
 * `testIpamDriver`: the conformance suite for IpamDriver plugins. Docker's semantics
 * (libnetwork ipam + the remote protocol as Docker 20.10 speaks it): ref-counted identical pool
 * requests, overlap refusal, CIDR-form addresses, no network/broadcast, serial allocation,
 * errors (never silent changes) on bad releases, exhaustion as a clear error.
 */
import { suite } from 'uvu';
import { scanIPv4 } from '@weft/net';
import * as assert from 'uvu/assert';
import { memoryStore, type Kernel, type PluginEntry, type Store } from '@weft/kernel';
import { err, kernelWith, ok, type PluginFactory } from './harness.ts';

export interface IpamDriverSuiteOptions {
  readonly plugin: PluginFactory;
  readonly extra?: () => readonly PluginEntry[] | Promise<readonly PluginEntry[]>;
  readonly config?: unknown;
  /** The driver picks a pool when `Pool` is empty (Docker's predefined pools). Default true. */
  readonly predefinedPools?: boolean;
  /** The driver supports V6 pools. Default true. */
  readonly ipv6?: boolean;
  /** Undo side effects after each test (e.g. stop a plugin process). */
  readonly cleanup?: () => Promise<void> | void;
}

type Pool = { PoolID: string; Pool: string };
type Addr = { Address: string };

function inPool(addr: string, pool: string): boolean {
  const [a] = addr.split('/');
  const [base, len] = pool.split('/');
  const size = 2 ** (32 - Number(len));
  const start = scanIPv4(base!);
  const x = scanIPv4(a!);
  return x >= start && x < start + size;
}

export function testIpamDriver(name: string, opts: IpamDriverSuiteOptions): void {
  const s = suite(`IpamDriver conformance: ${name}`);
  let store: Store;
  let k: Kernel;
  let plugin: string;
  let space = 'LocalDefault';
  const boot = async () => {
    const def = await opts.plugin();
    plugin = def.manifest.name;
    k = await kernelWith(def, { store, extra: (await opts.extra?.()) ?? [], config: opts.config });
    const spaces = ok(await k.invoke(plugin, 'IpamDriver.GetDefaultAddressSpaces', '')) as { LocalDefaultAddressSpace: string };
    space = spaces.LocalDefaultAddressSpace;
  };
  const call = (m: string, input: unknown) => k.invoke(plugin, `IpamDriver.${m}`, input);
  const pool = async (p: string, extra: Record<string, unknown> = {}) => ok(await call('RequestPool', { AddressSpace: space, Pool: p, SubPool: '', Options: {}, V6: false, ...extra }), `RequestPool ${p}`) as Pool;
  const address = async (poolId: string, a = '', options: Record<string, string> | null = null) => ok(await call('RequestAddress', { PoolID: poolId, Address: a, Options: options }), `RequestAddress ${a}`) as Addr;

  s.before.each(async () => {
    store = memoryStore();
    await boot();
  });
  s.after.each(async () => {
    await k.stop();
    await opts.cleanup?.();
  });

  s('default address spaces and capabilities', async () => {
    const spaces = ok(await call('GetDefaultAddressSpaces', '')) as Record<string, string>;
    assert.ok(spaces.LocalDefaultAddressSpace && spaces.GlobalDefaultAddressSpace);
    const caps = ok(await call('GetCapabilities', '')) as Record<string, boolean>;
    assert.type(caps.RequiresMACAddress, 'boolean');
  });

  s('an explicit pool is returned as requested; identical requests are reference-counted', async () => {
    const a = await pool('10.213.0.0/24');
    assert.is(a.Pool, '10.213.0.0/24');
    const b = await pool('10.213.0.0/24');
    assert.is(b.PoolID, a.PoolID);
    ok(await call('ReleasePool', { PoolID: a.PoolID }));
    // still held by the second reference
    assert.is(err(await call('RequestPool', { AddressSpace: space, Pool: '10.213.0.0/16' })).category, 'Conflict');
    ok(await call('ReleasePool', { PoolID: a.PoolID }));
    const c = await pool('10.213.0.0/16');
    ok(await call('ReleasePool', { PoolID: c.PoolID }));
  });

  s('an overlapping pool is refused, naming the pool that holds it', async () => {
    await pool('10.214.0.0/24');
    const e = err(await call('RequestPool', { AddressSpace: space, Pool: '10.214.0.0/23' }));
    assert.is(e.category, 'Conflict');
    assert.match(e.message, '10.214.0.0/24');
  });

  s('a sub-pool outside its pool, and a sub-pool without a pool, are bad requests', async () => {
    assert.is(err(await call('RequestPool', { AddressSpace: space, Pool: '10.215.0.0/24', SubPool: '10.216.0.0/25' })).category, 'BadRequest');
    assert.is(err(await call('RequestPool', { AddressSpace: space, Pool: '', SubPool: '10.216.0.0/25' })).category, 'BadRequest');
  });

  s('addresses come in CIDR form, inside the pool, never network or broadcast', async () => {
    const p = await pool('10.217.0.0/29');
    const got = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const a = await address(p.PoolID);
      assert.match(a.Address, /\/29$/);
      assert.ok(inPool(a.Address, p.Pool));
      assert.ok(!got.has(a.Address), `duplicate ${a.Address}`);
      got.add(a.Address);
    }
    assert.ok(!got.has('10.217.0.0/29') && !got.has('10.217.0.7/29'));
    const e = err(await call('RequestAddress', { PoolID: p.PoolID, Address: '' }), 'exhausted pool');
    assert.match(e.message, '10.217.0.0/29');
  });

  s('specific addresses, gateways and duplicates', async () => {
    const p = await pool('10.218.0.0/24');
    const gw = await address(p.PoolID, '10.218.0.1', { RequestAddressType: 'com.docker.network.gateway' });
    assert.is(gw.Address, '10.218.0.1/24');
    assert.is((await address(p.PoolID, '10.218.0.77')).Address, '10.218.0.77/24');
    assert.is(err(await call('RequestAddress', { PoolID: p.PoolID, Address: '10.218.0.77' })).category, 'Conflict');
    assert.is(err(await call('RequestAddress', { PoolID: p.PoolID, Address: '10.219.0.5' })).category, 'BadRequest');
    ok(await call('ReleaseAddress', { PoolID: p.PoolID, Address: '10.218.0.77' }));
    assert.is((await address(p.PoolID, '10.218.0.77')).Address, '10.218.0.77/24');
  });

  s('releasing what is not allocated is an error and changes nothing', async () => {
    const p = await pool('10.220.0.0/24');
    const a = await address(p.PoolID);
    const e = err(await call('ReleaseAddress', { PoolID: p.PoolID, Address: '10.220.0.200' }));
    assert.ok(e.category === 'NotFound' || e.category === 'BadRequest' || e.category === 'Conflict', e.category);
    assert.ok(err(await call('ReleasePool', { PoolID: 'no-such-pool' })).category !== 'Internal');
    // the real allocation is still held
    assert.is(err(await call('RequestAddress', { PoolID: p.PoolID, Address: a.Address.split('/')[0] })).category, 'Conflict');
  });

  s('serial allocation does not immediately reuse a released address', async () => {
    const p = await pool('10.221.0.0/24');
    const serial = { 'com.docker.network.ipam.serial': 'true' };
    const a = await address(p.PoolID, '', serial);
    await address(p.PoolID, '', serial);
    ok(await call('ReleaseAddress', { PoolID: p.PoolID, Address: a.Address.split('/')[0] }));
    const c = await address(p.PoolID, '', serial);
    assert.is.not(c.Address, a.Address);
  });

  if (opts.predefinedPools !== false) {
    s('an empty Pool picks distinct, non-overlapping predefined pools', async () => {
      const a = await pool('');
      const b = await pool('');
      assert.is.not(a.Pool, b.Pool);
      assert.is.not(a.PoolID, b.PoolID);
    });
  }

  if (opts.ipv6 !== false) {
    s('IPv6 pools hand out addresses with the prefix length', async () => {
      const p = await pool('fd00:77::/64', { V6: true });
      const a = await address(p.PoolID);
      assert.match(a.Address, /^fd00:77::[0-9a-f:]+\/64$/);
    });
  }

  s('state survives a restart over the same store', async () => {
    const p = await pool('10.222.0.0/24');
    const a = await address(p.PoolID, '10.222.0.9');
    await k.stop();
    await boot();
    assert.is(err(await call('RequestAddress', { PoolID: p.PoolID, Address: '10.222.0.9' })).category, 'Conflict', `${a.Address} must still be allocated`);
    ok(await call('ReleaseAddress', { PoolID: p.PoolID, Address: '10.222.0.9' }));
  });

  s.run();
}
