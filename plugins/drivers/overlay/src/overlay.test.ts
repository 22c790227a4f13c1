import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, memoryStore, type Kernel, type PluginDefinition } from '@weft/kernel';
import { dataPathPlugin, err, ok, recordingDataPath, testNetworkDriver, type RecordingDataPath } from '@weft/testing';
import { NetworkTables, type TablesHost } from '@weft/gossip';
import { overlayPlugin } from './mod.ts';
import { ifnameFor } from '@weft/switch';

/** Several "hosts" in one process: tables talk over an in-memory bus with real timers. */
function bus() {
  const nodes = new Map<string, { msg: ((from: string, p: Uint8Array) => void)[] }>();
  const all: NetworkTables[] = [];
  return {
    all,
    tablesPlugin(self: string): PluginDefinition {
      const host: TablesHost = {
        self,
        members: () => [...nodes.keys()].map((name) => ({ name, state: 'alive' as const, weft: true })),
        send: (node, p) => queueMicrotask(() => nodes.get(node)?.msg.forEach((f) => f(self, p))),
        broadcast: (p) => {
          for (const n of nodes.keys()) if (n !== self) host.send(n, p);
        },
        onMessage: (fn) => nodes.get(self)!.msg.push(fn),
        onMember: () => {},
      };
      nodes.set(self, { msg: [] });
      return definePlugin({
        manifest: { name: `tables-${self}`, version: '0.0.0', kernel: '*', provides: ['tables'] },
        services: {
          tables: (ctx) => {
            const t = new NetworkTables({ host, clock: { now: Date.now, setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) }, config: { gossipInterval: 10, bulkSyncInterval: 500 }, onEvent: (e) => ctx.events.publish('table', e) });
            t.start();
            all.push(t);
            return t;
          },
        },
      });
    },
    stop() {
      for (const t of all) t.stop();
    },
  };
}

async function host(b: ReturnType<typeof bus>, name: string, vtep: string, extra: PluginDefinition[] = []): Promise<{ k: Kernel; dp: RecordingDataPath }> {
  const dp = recordingDataPath();
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin: dataPathPlugin(dp) }, { plugin: b.tablesPlugin(name) }, ...extra.map((plugin) => ({ plugin })), { plugin: overlayPlugin(), config: { vtep, node: name } }]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return { k, dp };
}

const NID = 'n'.repeat(25);
const net = (extra: Record<string, string> = {}, internal = false) => ({
  NetworkID: NID,
  Options: { 'com.docker.network.generic': extra, ...(internal ? { 'com.docker.network.internal': true } : {}) },
  IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.0.9.0/24', Gateway: '10.0.9.1/24' }],
  IPv6Data: [],
});
const waitFor = async (pred: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

test('two hosts: an endpoint joined on one is programmed as a peer on the other, and removed on leave', async () => {
  const b = bus();
  const a = await host(b, 'h1', '198.18.0.1');
  const c = await host(b, 'h2', '198.18.0.2');
  try {
    for (const h of [a, c]) ok(await h.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ 'com.docker.network.driver.overlay.vxlanid_list': '4100' })));
    assert.is(a.dp.networks.size, 0, 'not programmed before the first local endpoint joins');
    ok(await a.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '10.0.9.2/24' } }));
    ok(await c.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e2', Interface: { Address: '10.0.9.3/24' } }));
    const j = ok(await a.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/run/netns/s1', Options: { 'weft.name': 'alpine1' } })) as { Gateway: string; InterfaceName: { SrcName: string } };
    assert.is(j.Gateway, '10.0.9.1');
    assert.is(j.InterfaceName.SrcName, ifnameFor('e1'));
    assert.is(a.dp.networks.get(NID)?.vni, 4100);
    ok(await c.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e2', SandboxKey: '/run/netns/s2', Options: { 'weft.name': 'alpine2', 'weft.sandbox.move': true } }));
    assert.is(c.dp.ports.get(`${NID}/e2`)?.netns, 's2', 'Weft sandboxes get the interface moved in (by namespace name)');
    assert.is(a.dp.ports.get(`${NID}/e1`)?.netns, undefined, 'Docker moves its own');
    assert.ok(await waitFor(() => c.dp.peers.get(`${NID}/02:42:0a:00:09:02`)?.vtep === '198.18.0.1'), `h2 peers: ${c.dp.log.join('\n')}`);
    assert.ok(await waitFor(() => a.dp.peers.get(`${NID}/02:42:0a:00:09:03`)?.vtep === '198.18.0.2'), `h1 peers: ${a.dp.log.join('\n')}`);
    assert.is(c.dp.peers.get(`${NID}/02:42:0a:00:09:02`)?.name, 'alpine1');
    assert.is(a.dp.peers.size, 1, 'own endpoints are ports, not peers');
    ok(await a.k.invoke('overlay', 'NetworkDriver.Leave', { NetworkID: NID, EndpointID: 'e1' }));
    assert.ok(await waitFor(() => !c.dp.peers.has(`${NID}/02:42:0a:00:09:02`)), 'peer removed on the other host');
    assert.is(a.dp.networks.size, 0, 'last local endpoint left: network unprogrammed');
    ok(await a.k.invoke('overlay', 'NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: 'e1' }));
    ok(await a.k.invoke('overlay', 'NetworkDriver.DeleteNetwork', { NetworkID: NID }));
    const busy = err(await c.k.invoke('overlay', 'NetworkDriver.DeleteNetwork', { NetworkID: NID }));
    assert.is(busy.category, 'Conflict');
  } finally {
    b.stop();
    await a.k.stop();
    await c.k.stop();
  }
});

test('options keep Docker meaning: pinned VNI, MTU, internal, encryption needs a cipher', async () => {
  const b = bus();
  const a = await host(b, 'h1', '198.18.0.1');
  try {
    const badMtu = err(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ 'com.docker.network.driver.mtu': '9x' })));
    assert.is(badMtu.category, 'BadRequest');
    assert.match(badMtu.path ?? '', 'com.docker.network.driver.mtu');
    assert.match(badMtu.message, '"9x"');
    const badVni = err(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ 'com.docker.network.driver.overlay.vxlanid_list': '99999999' })));
    assert.match(badVni.message, '99999999');
    const enc = err(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ encrypted: '' })));
    assert.match(enc.message, 'no cipher plugin');
    ok(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ 'com.docker.network.driver.mtu': '1400' }, true)));
    ok(await a.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '10.0.9.2/24' } }));
    const j = ok(await a.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/x' })) as Record<string, unknown>;
    assert.is(j.Gateway, undefined, 'internal: no default route');
    assert.is(j.DisableGatewayService, true, 'internal: no docker_gwbridge');
    assert.is(a.dp.networks.get(NID)?.mtu, 1400);
    assert.is(a.dp.networks.get(NID)?.internal, true);
  } finally {
    b.stop();
    await a.k.stop();
  }
  const b2 = bus();
  const cipher = definePlugin({ manifest: { name: 'fake-cipher', version: '0', kernel: '*', provides: ['cipher'] }, services: { cipher: () => ({ backend: 'fake', overhead: 28, setKeyRing() {}, session: () => { throw new Error('unused'); } }) } });
  const e = await host(b2, 'h1', '198.18.0.1', [cipher]);
  try {
    const plain = err(await e.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ encrypted: 'true' })));
    assert.is(plain.category, 'Unsupported', 'a data path that cannot encrypt must not get an encrypted network');
    (e.dp as { encrypts?: boolean }).encrypts = true;
    ok(await e.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net({ encrypted: 'true' })));
    ok(await e.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '10.0.9.2/24' } }));
    ok(await e.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/x' }));
    const n = e.dp.networks.get(NID)!;
    assert.is(n.encrypted, true);
    assert.is(n.mtu, 1420, '1450 - 28, rounded down to a multiple of 4');
  } finally {
    b2.stop();
    await e.k.stop();
  }
});

test('an IPv6 underlay (the VTEP is IPv6): default MTU 1430, encrypted 1400; an explicit MTU is kept', async () => {
  const b = bus();
  const cipher = definePlugin({ manifest: { name: 'fake-cipher', version: '0', kernel: '*', provides: ['cipher'] }, services: { cipher: () => ({ backend: 'fake', overhead: 28, setKeyRing() {}, session: () => { throw new Error('unused'); } }) } });
  const a = await host(b, 'h1', 'fd18::1', [cipher]);
  try {
    (a.dp as { encrypts?: boolean }).encrypts = true;
    for (const [opts, want] of [[{}, 1430], [{ encrypted: 'true' }, 1400], [{ 'com.docker.network.driver.mtu': '1380' }, 1380]] as const) {
      ok(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net(opts)));
      ok(await a.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '10.0.9.2/24' } }));
      ok(await a.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/x' }));
      assert.is(a.dp.networks.get(NID)?.mtu, want, `${JSON.stringify(opts)}: MTU ${want}`);
      ok(await a.k.invoke('overlay', 'NetworkDriver.Leave', { NetworkID: NID, EndpointID: 'e1' }));
      ok(await a.k.invoke('overlay', 'NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: 'e1' }));
      ok(await a.k.invoke('overlay', 'NetworkDriver.DeleteNetwork', { NetworkID: NID }));
    }
  } finally {
    b.stop();
    await a.k.stop();
  }
});

test('IPv6 (#22): dual-stack and IPv6-only endpoints; v6 gateways reach the data path; peers carry v6; bad IPv6Data and a too-small MTU refused', async () => {
  const b = bus();
  const a = await host(b, 'h1', '198.18.0.1');
  const c = await host(b, 'h2', '198.18.0.2');
  const dual = (extra: Record<string, string> = {}) => ({ ...net(extra), IPv6Data: [{ AddressSpace: 'GlobalDefault', Pool: 'fd00:9::/64', Gateway: 'fd00:9::1/64' }] });
  try {
    const small = err(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', dual({ 'com.docker.network.driver.mtu': '1200' })));
    assert.is(small.category, 'BadRequest');
    assert.match(small.message, "MTU 1200 is below IPv6's minimum link MTU of 1280");
    const swapped = err(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', { ...net(), IPv6Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.0.10.0/24', Gateway: '10.0.10.1/24' }] }));
    assert.match(swapped.message, 'pool 10.0.10.0/24 in IPv6Data is not an IPv6 subnet');
    for (const h of [a, c]) ok(await h.k.invoke('overlay', 'NetworkDriver.CreateNetwork', dual()));
    ok(await a.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e1', Interface: { Address: '10.0.9.2/24', AddressIPv6: 'fd00:9::2/64' } }));
    // An IPv6-only endpoint: a MAC from its address, no IPv4 gateway.
    const e2 = ok(await c.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e2', Interface: { AddressIPv6: 'fd00:9::a:3/64' } })) as { Interface: { MacAddress: string } };
    assert.is(e2.Interface.MacAddress, '02:42:00:0a:00:03');
    const none = err(await c.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: 'e3', Interface: {} }));
    assert.match(none.message, 'needs an IPv4 or IPv6 address');
    const j = ok(await a.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e1', SandboxKey: '/run/netns/s1', Options: { 'weft.name': 'alpine1' } })) as Record<string, unknown>;
    assert.is(j.Gateway, '10.0.9.1');
    assert.is(j.GatewayIPv6, 'fd00:9::1');
    assert.equal(a.dp.networks.get(NID)?.gateways, ['10.0.9.1/24', 'fd00:9::1/64']);
    assert.is(a.dp.ports.get(`${NID}/e1`)?.ipv6, 'fd00:9::2/64');
    ok(await c.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'e2', SandboxKey: '/run/netns/s2', Options: { 'weft.name': 'alpine2' } }));
    assert.ok(await waitFor(() => c.dp.peers.get(`${NID}/02:42:0a:00:09:02`)?.ipv6 === 'fd00:9::2'), `h2 peers: ${c.dp.log.join('\n')}`);
    assert.ok(await waitFor(() => a.dp.peers.get(`${NID}/02:42:00:0a:00:03`)?.ipv6 === 'fd00:9::a:3'), `h1 peers: ${a.dp.log.join('\n')}`);
    for (const [h, e] of [[a, 'e1'], [c, 'e2']] as const) {
      ok(await h.k.invoke('overlay', 'NetworkDriver.Leave', { NetworkID: NID, EndpointID: e }));
      ok(await h.k.invoke('overlay', 'NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: e }));
    }
  } finally {
    b.stop();
    await a.k.stop();
    await c.k.stop();
  }
});

test('concurrent joins and leaves program the network once and unprogram it after the last', async () => {
  const b = bus();
  const a = await host(b, 'h1', '198.18.0.1');
  try {
    ok(await a.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net()));
    const ids = Array.from({ length: 10 }, (_, i) => `e${i}`);
    await Promise.all(ids.map(async (id, i) => ok(await a.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: id, Interface: { Address: `10.0.9.${10 + i}/24` } }))));
    await Promise.all(ids.map(async (id) => ok(await a.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: id, SandboxKey: '/x' }))));
    assert.is(a.dp.log.filter((l) => l.startsWith('ensureNetwork')).length, 1);
    await Promise.all(ids.map(async (id) => ok(await a.k.invoke('overlay', 'NetworkDriver.Leave', { NetworkID: NID, EndpointID: id }))));
    assert.is(a.dp.networks.size, 0);
    assert.is(a.dp.ports.size, 0);
  } finally {
    b.stop();
    await a.k.stop();
  }
});

test('after a restart the joined endpoints are re-attached from the store (the data path starts empty)', async () => {
  const b = bus();
  const store = memoryStore();
  const boot = async () => {
    const dp = recordingDataPath();
    const k = createKernel({ store });
    const r = await k.load([{ plugin: dataPathPlugin(dp) }, { plugin: b.tablesPlugin(`r${b.all.length}`) }, { plugin: overlayPlugin(), config: { vtep: '198.18.0.1', node: 'h1' } }]);
    if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
    return { k, dp };
  };
  let h = await boot();
  try {
    ok(await h.k.invoke('overlay', 'NetworkDriver.CreateNetwork', net()));
    for (const [id, a] of [['j1', '10.0.9.2/24'], ['j2', '10.0.9.3/24'], ['idle', '10.0.9.4/24']] as const) {
      ok(await h.k.invoke('overlay', 'NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: id, Interface: { Address: a } }));
    }
    ok(await h.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'j1', SandboxKey: '/run/netns/sb1', Options: { 'weft.sandbox.move': true, 'weft.sandbox.ifname': 'eth1' } }));
    ok(await h.k.invoke('overlay', 'NetworkDriver.Join', { NetworkID: NID, EndpointID: 'j2', SandboxKey: '/x' }));
    await h.k.stop();
    h = await boot();
    assert.ok(h.dp.networks.has(NID), 'network re-programmed');
    assert.equal([...h.dp.ports.keys()].sort(), [`${NID}/j1`, `${NID}/j2`], 'joined endpoints re-attached, the unjoined one not');
    const p = h.dp.ports.get(`${NID}/j1`)!;
    assert.equal([p.netns, p.dstName, p.ipv4], ['sb1', 'eth1', '10.0.9.2/24'], 'same namespace, name and address as before');
  } finally {
    b.stop();
    await h.k.stop();
  }
});

test.run();

const cb = bus();
testNetworkDriver('overlay (recording data path, in-process tables)', {
  plugin: () => overlayPlugin(),
  config: { vtep: '198.18.0.1', node: 'h1' },
  extra: () => [{ plugin: dataPathPlugin(recordingDataPath()) }, { plugin: cb.tablesPlugin(`c${cb.all.length}`) }],
  cleanup: () => cb.stop(),
});
