import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { createKernel, type DataPath, type WeftException } from '@weft/kernel';
import { vxlanPlugin, gatewayMacFor, VxlanCodes, createVxlanDataPath } from './mod.ts';

test('bad configuration is refused at load with the field path', async () => {
  const k = createKernel();
  const r = await k.load([{ plugin: vxlanPlugin(), config: { dataPathPort: 4789 } }]);
  assert.ok(isLeft(r));
  if (isLeft(r)) assert.match(JSON.stringify(r.left), 'dataPathAddr');
});

test('a bad warmUs is refused with the value and the range, before any socket is opened', async () => {
  for (const warmUs of [-1, 1.5, 5_000_000]) {
    const err = await createVxlanDataPath({ dataPathAddr: '127.0.0.1', dataPathPort: 1, warmUs }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err instanceof Error, `warmUs ${warmUs} refused`);
    assert.match(err.message, `warmUs ${warmUs} must be an integer number of microseconds, 0 (off) to 1000000`);
  }
});

test('loads as the datapath service on loopback; networks, peers and counters', async () => {
  const k = createKernel();
  const port = 40000 + (process.pid % 20000);
  const r = await k.load([{ plugin: vxlanPlugin(), config: { dataPathAddr: '127.0.0.1', dataPathPort: port, sourcePorts: 2 } }]);
  assert.ok(isRight(r), JSON.stringify(r));
  const dp = k.service('datapath') as DataPath;
  try {
    await dp.ensureNetwork({ id: 'n', vni: 10, mtu: 1450, encrypted: false, internal: false, gateways: ['10.0.0.1/24'] });
    await assert.not.throws(() => dp.addPeer({ network: 'n', mac: '02:42:0a:00:00:05', ipv4: '10.0.0.5', vtep: '127.0.0.2' }));
    assert.equal(dp.capacity, { ports: 16384 }, 'the capacity the scale guard warns against');
    assert.is(dp.portCount?.(), 0, 'no ports yet (peers are not ports)');
    const c = dp.counters('n');
    assert.ok(c['peer/02:42:0a:00:00:05'] !== undefined);
    assert.is(c['peer/02:42:0a:00:00:05']?.['tx_packets'], 0);
    assert.throws(() => dp.addPeer({ network: 'nope', mac: '02:42:0a:00:00:05', vtep: '127.0.0.2' }), /ensureNetwork/);
    let err = '';
    try {
      await dp.ensureNetwork({ id: 'm', vni: 10, mtu: 1450, encrypted: false, internal: false, gateways: [] });
    } catch (e) {
      err = String(e);
    }
    assert.match(err, 'already used by network "n"');
    let enc: unknown;
    try {
      await dp.ensureNetwork({ id: 'secret', vni: 11, mtu: 1450, encrypted: true, internal: false, gateways: [] });
    } catch (e) {
      enc = e;
    }
    assert.is((enc as WeftException).error.category, 'NotImplemented', 'encryption refused, never silently clear text');
    assert.is((enc as WeftException).error.code, VxlanCodes.encryption);
    assert.is(gatewayMacFor(10), '02:57:46:00:00:0a');
  } finally {
    await k.stop();
  }
});

test('a network of 10,000 endpoints on another host fits; past capacity a clear error', async () => {
  const k = createKernel();
  const port = 40000 + ((process.pid + 7) % 20000);
  const r = await k.load([{ plugin: vxlanPlugin(), config: { dataPathAddr: '127.0.0.1', dataPathPort: port, sourcePorts: 1 } }]);
  assert.ok(isRight(r), JSON.stringify(r));
  const dp = k.service('datapath') as DataPath;
  const mac = (i: number) => `02:42:0a:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  try {
    await dp.ensureNetwork({ id: 'big', vni: 12, mtu: 1450, encrypted: false, internal: false, gateways: ['10.128.0.1/14'] });
    for (let i = 1; i <= 10_000; i++) dp.addPeer({ network: 'big', mac: mac(i), ipv4: `10.128.${i >> 8}.${i & 255}`, vtep: '127.0.0.2' });
    const c = dp.counters('big');
    assert.ok(c[`peer/${mac(10_000)}`] !== undefined, 'the 10,000th remote endpoint is programmed');
    let err = '';
    try {
      for (let i = 10_001; i <= 40_000; i++) dp.addPeer({ network: 'big', mac: mac(i), ipv4: `10.129.${(i >> 8) & 255}.${i & 255}`, vtep: '127.0.0.2' });
    } catch (e) {
      err = String((e as WeftException).error?.message ?? e);
    }
    assert.match(err, /No free peer slot \(at most \d+ peers per host\)/);
  } finally {
    await k.stop();
  }
});

test.run();
