/**
 * Replays the request sequences Docker 20.10 was observed to send
 * (shared/specs/docker-plugin-protocol.md) against the gateway, byte for byte where the spec
 * gives bodies, and checks every answer against what Docker accepts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel } from '@weft/kernel';
import { exampleStatic } from '@weft/example-static';
import { testNetworkDriver } from '@weft/testing';
import { servePluginSocket, postUnix, mountPluginSocket, type Gateway } from './mod.ts';
import { fakeIpam } from './fake-ipam.test-helper.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-gw-'));
const sock = path.join(dir, 'weft.sock');
const kernel = createKernel();
let gw: Gateway;

const CIDR = /^\d+\.\d+\.\d+\.\d+\/\d+$/;
const NID = 'a'.repeat(63) + '1';
const NID2 = 'b'.repeat(63) + '2';
const ep = (n: number) => n.toString(16).padStart(64, 'e');

/** A Docker-style call: JSON body with a trailing newline, or an empty body. */
async function docker(method: string, body?: unknown) {
  const r = await postUnix(sock, `/${method}`, body);
  let json: any;
  try {
    json = r.body.trim() === '' ? undefined : JSON.parse(r.body);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, raw: r.body };
}
async function accepted(method: string, body?: unknown) {
  const r = await docker(method, body);
  assert.is(r.status, 200, `${method} → ${r.status} ${r.raw}`);
  assert.ok(r.json !== undefined && r.json.Err === undefined && r.json.Error === undefined, `${method} → ${r.raw}`);
  return r.json;
}

test.before(async () => {
  const loaded = await kernel.load([{ plugin: exampleStatic('weft') }, { plugin: fakeIpam }]);
  if (isLeft(loaded)) throw new Error(JSON.stringify(loaded.left));
  gw = await servePluginSocket({ kernel, socketPath: sock, networkDriver: 'weft', ipamDriver: 'fake-ipam' });
});
test.after(async () => {
  await gw.close();
  await kernel.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('activation: empty bodies, Implements both, capabilities and address spaces', async () => {
  const raw = await postUnix(sock, '/Plugin.Activate', undefined);
  assert.is(raw.status, 200);
  assert.equal(JSON.parse(raw.body), { Implements: ['NetworkDriver', 'IpamDriver'] });
  const caps = await accepted('NetworkDriver.GetCapabilities');
  assert.ok(caps.Scope === 'local', 'standalone dockerd needs Scope "local"');
  const ipcaps = await accepted('IpamDriver.GetCapabilities');
  assert.type(ipcaps.RequiresMACAddress, 'boolean');
  const spaces = await accepted('IpamDriver.GetDefaultAddressSpaces');
  assert.ok(spaces.LocalDefaultAddressSpace && spaces.GlobalDefaultAddressSpace);
  const mode = fs.statSync(sock).mode & 0o777;
  assert.is(mode, 0o660);
});

test('network create with gateway, aux address and options', async () => {
  const pool = await accepted('IpamDriver.RequestPool', { AddressSpace: 'rdlocal', Pool: '10.99.0.0/24', SubPool: '', Options: { ipx: '1' }, V6: false });
  assert.ok(typeof pool.PoolID === 'string' && pool.PoolID !== '');
  assert.is(pool.Pool, '10.99.0.0/24');
  const gwa = await accepted('IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '10.99.0.1', Options: { RequestAddressType: 'com.docker.network.gateway' } });
  assert.is(gwa.Address, '10.99.0.1/24');
  const aux = await accepted('IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '10.99.0.9', Options: null });
  assert.match(aux.Address, CIDR);
  await accepted('NetworkDriver.CreateNetwork', {
    NetworkID: NID,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { foo: 'bar' } },
    IPv4Data: [{ AddressSpace: 'rdlocal', AuxAddresses: { aux1: '10.99.0.9/24' }, Gateway: '10.99.0.1/24', Pool: '10.99.0.0/24' }],
    IPv6Data: [],
  });
});

async function startContainer(n: number, network = NID, poolId = 'p-10.99.0.0/24') {
  const a = await accepted('IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
  assert.match(a.Address, CIDR, 'Docker needs CIDR form ("invalid CIDR address" otherwise)');
  const opts = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] };
  const ce = await accepted('NetworkDriver.CreateEndpoint', { NetworkID: network, EndpointID: ep(n), Interface: { Address: a.Address, AddressIPv6: '', MacAddress: '' }, Options: opts });
  assert.ok(ce.Interface?.Address === undefined, 'must not modify the address Docker supplied');
  const j = await accepted('NetworkDriver.Join', { NetworkID: network, EndpointID: ep(n), SandboxKey: '/var/run/docker/netns/3f1d35ff3341', Options: opts });
  assert.ok(j.InterfaceName.SrcName.length > 0 && j.InterfaceName.DstPrefix.length > 0);
  assert.not.match(j.Gateway, '/', 'Gateway must be a bare IP ("unable to parse Gateway")');
  const pec = await docker('NetworkDriver.ProgramExternalConnectivity', { NetworkID: network, EndpointID: ep(n), Options: opts });
  assert.ok(pec.status === 200 || pec.status === 404, 'Docker tolerates 404 here');
  for (let i = 0; i < 2; i++) await accepted('NetworkDriver.EndpointOperInfo', { NetworkID: network, EndpointID: ep(n) });
  return a.Address as string;
}

async function stopContainer(n: number, address: string, network = NID, poolId = 'p-10.99.0.0/24') {
  const rv = await docker('NetworkDriver.RevokeExternalConnectivity', { NetworkID: network, EndpointID: ep(n) });
  assert.ok(rv.status === 200 || rv.status === 404);
  await accepted('NetworkDriver.Leave', { NetworkID: network, EndpointID: ep(n) });
  await accepted('NetworkDriver.DeleteEndpoint', { NetworkID: network, EndpointID: ep(n) });
  await accepted('IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address.split('/')[0] });
}

test('container start, connect, disconnect and stop', async () => {
  const a1 = await startContainer(1);
  // network connect to a second network
  const p2 = await accepted('IpamDriver.RequestPool', { AddressSpace: 'rdlocal', Pool: '10.98.0.0/24', SubPool: '', Options: {}, V6: false });
  await accepted('NetworkDriver.CreateNetwork', { NetworkID: NID2, Options: {}, IPv4Data: [{ AddressSpace: 'rdlocal', Pool: '10.98.0.0/24', Gateway: '10.98.0.1/24' }], IPv6Data: [] });
  await accepted('NetworkDriver.EndpointOperInfo', { NetworkID: NID, EndpointID: ep(1) });
  const a2 = await startContainer(2, NID2, p2.PoolID);
  // disconnect from the second network: Leave → EndpointOperInfo → DeleteEndpoint → ReleaseAddress
  await accepted('NetworkDriver.Leave', { NetworkID: NID2, EndpointID: ep(2) });
  await accepted('NetworkDriver.EndpointOperInfo', { NetworkID: NID, EndpointID: ep(1) });
  await accepted('NetworkDriver.DeleteEndpoint', { NetworkID: NID2, EndpointID: ep(2) });
  await accepted('IpamDriver.ReleaseAddress', { PoolID: p2.PoolID, Address: a2.split('/')[0] });
  await stopContainer(1, a1);
});

test('concurrent teardown (docker rm -f c1 c2 c3) interleaves without errors', async () => {
  const addrs = await Promise.all([11, 12, 13].map((n) => startContainer(n)));
  await Promise.all([11, 12, 13].map((n, i) => stopContainer(n, addrs[i]!)));
});

test('network rm: release gateway and aux, release pool, then DeleteNetwork', async () => {
  await accepted('IpamDriver.ReleaseAddress', { PoolID: 'p-10.99.0.0/24', Address: '10.99.0.1' });
  await accepted('IpamDriver.ReleaseAddress', { PoolID: 'p-10.99.0.0/24', Address: '10.99.0.9' });
  await accepted('IpamDriver.ReleasePool', { PoolID: 'p-10.99.0.0/24' });
  await accepted('NetworkDriver.DeleteNetwork', { NetworkID: NID });
});

test('errors: 404 for unknown or unimplemented methods, Err for NetworkDriver, Error for IpamDriver', async () => {
  assert.is((await docker('NetworkDriver.Frobnicate', {})).status, 404);
  assert.is((await docker('VolumeDriver.Create', {})).status, 404);
  assert.is((await docker('NetworkDriver.AllocateNetwork', { NetworkID: 'x' })).status, 404);
  const nd = await docker('NetworkDriver.Join', { NetworkID: NID, EndpointID: ep(99), SandboxKey: '/x' });
  assert.ok(nd.status >= 400 && nd.status !== 404, `status ${nd.status}`);
  assert.match(nd.json.Err, 'not found');
  const ip = await docker('IpamDriver.ReleasePool', { PoolID: 'nope' });
  assert.ok(ip.status >= 400 && ip.status !== 404);
  assert.match(ip.json.Error, 'not found');
  assert.match(ip.json.Err, 'not found');
  const bad = await docker('NetworkDriver.CreateNetwork', { NetworkID: NID, IPv4Data: [{ Pool: 'x' }] });
  assert.is(bad.status, 400);
  assert.match(bad.json.Err, 'IPv4Data[0].Pool');
  const garbage = await postUnix(sock, '/NetworkDriver.CreateNetwork', undefined).then(() => 0);
  assert.is(garbage, 0);
});

test('the client mounts an out-of-process plugin as a kernel plugin', async () => {
  const m = await mountPluginSocket({ name: 'remote', socketPath: sock });
  assert.ok(!isLeft(m));
  if (isLeft(m)) return;
  assert.equal([...m.right.manifest.provides], ['NetworkDriver', 'IpamDriver']);
  const k2 = createKernel();
  assert.ok(!isLeft(await k2.load([{ plugin: m.right }])));
  const caps = await k2.invoke('remote', 'NetworkDriver.GetCapabilities', {});
  assert.equal(caps, { _tag: 'Right', right: { Scope: 'local', ConnectivityScope: 'local' } });
  const ni = await k2.invoke('remote', 'NetworkDriver.AllocateNetwork', { NetworkID: 'x' });
  assert.ok(isLeft(ni) && ni.left.category === 'NotImplemented');
  const nf = await k2.invoke('remote', 'NetworkDriver.Leave', { NetworkID: 'x', EndpointID: 'y' });
  assert.ok(isLeft(nf) && nf.left.message.includes('not found'));
  await k2.stop();
});

test.run();

// The same conformance suite, through the socket: a remote plugin is held to the same contract.
const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-gw2-'));
const sock2 = path.join(dir2, 'remote.sock');
let remoteKernel = createKernel();
let remoteGw: Gateway | undefined;
testNetworkDriver('example-static over the plugin socket', {
  plugin: async () => {
    if (remoteGw === undefined) {
      remoteKernel = createKernel();
      const r = await remoteKernel.load([{ plugin: exampleStatic('weft') }]);
      if (isLeft(r)) throw new Error('load');
      remoteGw = await servePluginSocket({ kernel: remoteKernel, socketPath: sock2, networkDriver: 'weft' });
    }
    const m = await mountPluginSocket({ name: 'remote', socketPath: sock2 });
    if (isLeft(m)) throw new Error(m.left.message);
    return m.right;
  },
  cleanup: async () => {
    await remoteGw?.close();
    await remoteKernel.stop();
    remoteGw = undefined;
  },
});
process.on('exit', () => fs.rmSync(dir2, { recursive: true, force: true }));
