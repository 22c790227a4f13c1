import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, decodeEndpointRecord, definePlugin, memoryStore, type TableEvent } from '@weft/kernel';
import { dataPathPlugin, err, ok, recordingDataPath, testNetworkDriver } from '@weft/testing';
import { bridgePlugin } from './mod.ts';

const NID = 'b'.repeat(64);

test('local scope, VNI 0, no tables needed; names reach the DNS as local table events; encryption refused', async () => {
  const dp = recordingDataPath();
  const events: TableEvent[] = [];
  const dns = definePlugin({ manifest: { name: 'dns-watch', version: '0', kernel: '*', provides: [] }, events: { table: (e: TableEvent) => void events.push(e) } });
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin: dataPathPlugin(dp) }, { plugin: bridgePlugin() }, { plugin: dns }]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  try {
    assert.equal(ok(await k.invoke('bridge', 'NetworkDriver.GetCapabilities', {})), { Scope: 'local', ConnectivityScope: 'local' });
    const enc = err(await k.invoke('bridge', 'NetworkDriver.CreateNetwork', { NetworkID: NID, Options: { 'com.docker.network.generic': { encrypted: '' } }, IPv4Data: [{ Pool: '172.20.0.0/16', Gateway: '172.20.0.1/16' }] }));
    assert.is(enc.category, 'BadRequest');
    assert.match(enc.message, 'never leave this host');
    ok(await k.invoke('bridge', 'NetworkDriver.CreateNetwork', { NetworkID: NID, IPv4Data: [{ Pool: '172.20.0.0/16', Gateway: '172.20.0.1/16' }] }));
    ok(await k.invoke('bridge', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '172.20.0.2/16' } }));
    const j = ok(await k.invoke('bridge', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/run/netns/web1', Options: { 'weft.sandbox.move': true, 'weft.name': 'web1', 'weft.aliases': ['www'] } })) as { Gateway: string };
    assert.is(j.Gateway, '172.20.0.1');
    assert.is(dp.networks.get(NID)?.vni, 0, 'a local-only network');
    await k.events.drain();
    const created = events.find((e) => e.type === 'create');
    const rec = created === undefined ? undefined : decodeEndpointRecord(created.entry.value);
    assert.equal([rec?.name, rec?.ipv4, rec?.aliases], ['web1', '172.20.0.2/16', ['www']]);
    ok(await k.invoke('bridge', 'NetworkDriver.Leave', { NetworkID: NID, EndpointID: 'e1' }));
    await k.events.drain();
    assert.ok(events.some((e) => e.type === 'delete' && e.entry.key === 'e1'), 'the name goes away with the endpoint');
    assert.is(dp.networks.size, 0);
  } finally {
    await k.stop();
  }
});

test.run();

testNetworkDriver('bridge (recording data path)', {
  plugin: () => bridgePlugin(),
  extra: () => [{ plugin: dataPathPlugin(recordingDataPath()) }],
});
