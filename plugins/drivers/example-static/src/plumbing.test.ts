/** What the driver asks of the data path, checked against a recording double (no privileges needed). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { dataPathPlugin, err, kernelWith, ok, recordingDataPath } from '@weft/testing';
import { exampleStatic, parseNetworkOptions } from './mod.ts';

const nid = 'a'.repeat(64);
const eid = 'e'.repeat(64);
const create = (generic: Record<string, unknown>) => ({
  NetworkID: nid,
  Options: { 'com.docker.network.generic': generic },
  IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.9.0.0/24', Gateway: '10.9.0.1/24', AuxAddresses: {} }],
  IPv6Data: [],
});

test('network options: VNI and static peers, with the bad value quoted', () => {
  const good = parseNetworkOptions('st', { 'example.vni': '4300', 'example.peers': '10.9.0.3@198.18.0.2, 10.9.0.4@198.18.0.3' });
  assert.equal(good, { _tag: 'Right', right: { vni: 4300, peers: [{ ipv4: '10.9.0.3', mac: '02:42:0a:09:00:03', vtep: '198.18.0.2' }, { ipv4: '10.9.0.4', mac: '02:42:0a:09:00:04', vtep: '198.18.0.3' }] } });
  assert.equal(parseNetworkOptions('st', {}), { _tag: 'Right', right: { vni: 0, peers: [] } });
  for (const [g, msg] of [
    [{ 'example.vni': '99999999' }, 'example.vni "99999999" is not a VNI'],
    [{ 'example.vni': 'x' }, 'example.vni "x" is not a VNI'],
    [{ 'example.vni': 5, 'example.peers': '10.9.0.3' }, 'Static peer "10.9.0.3" is not IP@VTEP'],
    [{ 'example.vni': 5, 'example.peers': '10.9.0.3@host' }, 'Static peer "10.9.0.3@host" is not IP@VTEP'],
    [{ 'example.peers': '10.9.0.3@198.18.0.2' }, 'Static peers need a VNI'],
    [{ 'example.peers': 7 }, 'example.peers must be a string'],
  ] as const) {
    const r = parseNetworkOptions('st', g);
    assert.ok(isLeft(r), JSON.stringify(g));
    if (isLeft(r)) {
      assert.match(r.left.message, msg);
      assert.is(r.left.category, 'BadRequest');
    }
  }
});

test('Join plugs the endpoint into the data path with the static peers; Leave and DeleteNetwork unplug', async () => {
  const dp = recordingDataPath();
  const k = await kernelWith(exampleStatic('st'), { extra: [{ plugin: dataPathPlugin(dp) }] });
  const call = (m: string, input: unknown) => k.invoke('st', `NetworkDriver.${m}`, input);
  try {
    assert.match(err(await call('CreateNetwork', create({ 'example.vni': 'nope' }))).message, 'not a VNI');
    ok(await call('CreateNetwork', create({ 'example.vni': '4300', 'example.peers': '10.9.0.3@198.18.0.2' })));
    ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: '10.9.0.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} }));
    const j = ok(await call('Join', { NetworkID: nid, EndpointID: eid, SandboxKey: '/run/netns/sb1', Options: { 'weft.sandbox.move': true } })) as { InterfaceName: { SrcName: string } };
    assert.equal(dp.networks.get(nid), { id: nid, vni: 4300, mtu: 1450, encrypted: false, internal: false, gateways: ['10.9.0.1/24'] });
    assert.equal(dp.ports.get(`${nid}/${eid}`), { network: nid, endpointId: eid, mac: '02:42:0a:09:00:02', ipv4: '10.9.0.2/24', ifname: j.InterfaceName.SrcName, netns: 'sb1', dstName: 'eth0' });
    assert.equal(dp.peers.get(`${nid}/02:42:0a:09:00:03`), { network: nid, mac: '02:42:0a:09:00:03', ipv4: '10.9.0.3', vtep: '198.18.0.2' });
    ok(await call('Leave', { NetworkID: nid, EndpointID: eid }));
    assert.is(dp.ports.size, 0);
    ok(await call('DeleteEndpoint', { NetworkID: nid, EndpointID: eid }));
    ok(await call('DeleteNetwork', { NetworkID: nid }));
    assert.is(dp.networks.size, 0);
    // Docker's sandboxes: the TAP stays in the agent's namespace for Docker to move.
    ok(await call('CreateNetwork', create({})));
    ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: '10.9.0.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} }));
    ok(await call('Join', { NetworkID: nid, EndpointID: eid, SandboxKey: '/var/run/docker/netns/0123456789ab', Options: {} }));
    assert.is(dp.ports.get(`${nid}/${eid}`)?.netns, undefined);
    assert.is(dp.networks.get(nid)?.vni, 0, 'no VNI: a network on this host only');
  } finally {
    await k.stop();
  }
});

test.run();
