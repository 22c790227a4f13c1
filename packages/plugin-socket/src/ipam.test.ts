/**
 * Weft's IPAM through the Docker plugin socket: the IpamDriver conformance suite run over the
 * wire (gateway + client), and the raw shapes Docker depends on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, type Kernel } from '@weft/kernel';
import { ipamPlugin } from '@weft/ipam';
import { testIpamDriver } from '@weft/testing';
import { servePluginSocket, postUnix, mountPluginSocket, type Gateway } from './mod.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ipam-sock-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

async function serve(sock: string, store = memoryStore()): Promise<{ k: Kernel; gw: Gateway }> {
  const k = createKernel({ store });
  const r = await k.load([{ plugin: ipamPlugin({ name: 'weft' }) }]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return { k, gw: await servePluginSocket({ kernel: k, socketPath: sock, ipamDriver: 'weft' }) };
}

test('raw Docker requests: empty bodies, CIDR answers, Error field, restart keeps state', async () => {
  const sock = path.join(dir, 'raw.sock');
  const store = memoryStore();
  let s = await serve(sock, store);
  try {
    const act = await postUnix(sock, '/Plugin.Activate', undefined);
    assert.equal(JSON.parse(act.body), { Implements: ['IpamDriver'] });
    const spaces = JSON.parse((await postUnix(sock, '/IpamDriver.GetDefaultAddressSpaces', undefined)).body);
    assert.ok(spaces.LocalDefaultAddressSpace && spaces.GlobalDefaultAddressSpace);
    const pool = JSON.parse((await postUnix(sock, '/IpamDriver.RequestPool', { AddressSpace: spaces.LocalDefaultAddressSpace, Pool: '', SubPool: '', Options: null, V6: false })).body);
    assert.match(pool.Pool, /^172\.17\.0\.0\/16$/, 'first predefined local pool');
    const gw = JSON.parse((await postUnix(sock, '/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } })).body);
    assert.is(gw.Address, '172.17.0.1/16');
    const a = JSON.parse((await postUnix(sock, '/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null })).body);
    assert.is(a.Address, '172.17.0.2/16');
    const dup = await postUnix(sock, '/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '172.17.0.2', Options: null });
    assert.ok(dup.status >= 400 && dup.status !== 404);
    assert.match(JSON.parse(dup.body).Error, '172.17.0.2');
    // Docker never replays after a plugin restart: the state must be there.
    await s.gw.close();
    await s.k.stop();
    s = await serve(sock, store);
    const next = JSON.parse((await postUnix(sock, '/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null })).body);
    assert.is(next.Address, '172.17.0.3/16', 'after restart the pool and its addresses are remembered');
    const rel = await postUnix(sock, '/IpamDriver.ReleaseAddress', { PoolID: pool.PoolID, Address: '172.17.0.2' });
    assert.is(rel.status, 200);
    const rel2 = await postUnix(sock, '/IpamDriver.ReleaseAddress', { PoolID: pool.PoolID, Address: '172.17.0.2' });
    assert.ok(rel2.status >= 400);
  } finally {
    await s.gw.close();
    await s.k.stop();
  }
});

test.run();

let current: { k: Kernel; gw: Gateway } | undefined;
let n = 0;
testIpamDriver('weft IPAM over the plugin socket', {
  // A fresh plugin process per test; the suite's mid-test "restart" reconnects to the same one.
  plugin: async () => {
    current ??= await serve(path.join(dir, `suite-${n++}.sock`));
    const m = await mountPluginSocket({ name: 'remote-ipam', socketPath: current.gw.socketPath });
    if (isLeft(m)) throw new Error(m.left.message);
    return m.right;
  },
  cleanup: async () => {
    await current?.gw.close();
    await current?.k.stop();
    current = undefined;
  },
});
