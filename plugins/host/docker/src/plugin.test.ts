/**
 * The `weft` plugin through the kernel, driven with the request sequences Docker 20.10 sends
 * (shared/specs/docker-plugin-protocol.md), over the real overlay and IPAM plugins, a recording
 * data path and an in-memory control plane.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { fakeControl, fakeDockerHost, testHost, type TestHost } from './_fakes.ts';
import { mapCreateOptions, normaliseCidr, firstHost } from './options.ts';
import { decodeEndpointRecord } from '@weft/kernel';

const hex64 = () => randomBytes(32).toString('hex');
const GW = 'com.docker.network.gateway';

interface DockerNet {
  readonly id: string;
  readonly pool: string;
  readonly gateway: string;
}

/** `docker network create -d weft --ipam-driver weft [--subnet S] [--gateway G] [--ipam-opt ..] [-o ..] NAME` */
async function createNetwork(h: TestHost, o: { subnet?: string; gateway?: string; ipamOpts?: Record<string, string>; opts?: Record<string, string>; id?: string } = {}): Promise<DockerNet> {
  const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: o.subnet ?? '', SubPool: '', Options: o.ipamOpts ?? {}, V6: false });
  const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: o.gateway ?? '', Options: { RequestAddressType: GW } });
  const id = o.id ?? hex64();
  await h.call('/NetworkDriver.CreateNetwork', {
    NetworkID: id,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': o.opts ?? {} },
    IPv4Data: [{ AddressSpace: 'weft-local', AuxAddresses: {}, Gateway: gw.Address, Pool: pool.Pool }],
    IPv6Data: [],
  });
  return { id, pool: pool.PoolID, gateway: gw.Address };
}

interface Container {
  readonly ep: string;
  readonly address: string;
  readonly join: { InterfaceName: { SrcName: string; DstPrefix: string }; Gateway?: string };
}

const ports = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] };

/** `docker run --network N` */
async function start(h: TestHost, n: DockerNet): Promise<Container> {
  const a = await h.call('/IpamDriver.RequestAddress', { PoolID: n.pool, Address: '', Options: null });
  const ep = hex64();
  const ce = await h.call('/NetworkDriver.CreateEndpoint', { NetworkID: n.id, EndpointID: ep, Interface: { Address: a.Address, AddressIPv6: '', MacAddress: '' }, Options: ports });
  assert.ok(ce.Interface?.MacAddress, 'the driver chooses the MAC when Docker sends none');
  const join = await h.call('/NetworkDriver.Join', { NetworkID: n.id, EndpointID: ep, SandboxKey: `/tmp/weft-dockerd/run/exec/netns/${ep.slice(0, 12)}`, Options: ports });
  await h.call('/NetworkDriver.ProgramExternalConnectivity', { NetworkID: n.id, EndpointID: ep, Options: ports });
  await h.call('/NetworkDriver.EndpointOperInfo', { NetworkID: n.id, EndpointID: ep });
  await h.call('/NetworkDriver.EndpointOperInfo', { NetworkID: n.id, EndpointID: ep });
  return { ep, address: a.Address, join };
}

/** `docker rm -f` */
async function stop(h: TestHost, n: DockerNet, c: Container): Promise<void> {
  await h.call('/NetworkDriver.RevokeExternalConnectivity', { NetworkID: n.id, EndpointID: c.ep });
  await h.call('/NetworkDriver.Leave', { NetworkID: n.id, EndpointID: c.ep });
  await h.call('/NetworkDriver.DeleteEndpoint', { NetworkID: n.id, EndpointID: c.ep });
  await h.call('/IpamDriver.ReleaseAddress', { PoolID: n.pool, Address: c.address.split('/')[0] });
}

/** `docker network rm`: IPAM first, then the driver. */
async function removeNetwork(h: TestHost, n: DockerNet): Promise<void> {
  await h.call('/IpamDriver.ReleaseAddress', { PoolID: n.pool, Address: n.gateway.split('/')[0] });
  await h.call('/IpamDriver.ReleasePool', { PoolID: n.pool });
  await h.call('/NetworkDriver.DeleteNetwork', { NetworkID: n.id });
}

async function ipamPools(h: TestHost): Promise<unknown[]> {
  const r = await h.k.invoke<{ Pools: unknown[] }>('ipam', 'Ipam.Utilisation', {});
  if (r._tag === 'Left') throw new Error(r.left.message);
  return r.right.Pools;
}

test('activation: local scope, global connectivity, no MAC, no replay needed (state is durable)', async () => {
  const h = await testHost({ control: fakeControl() });
  try {
    assert.equal(await h.call('/NetworkDriver.GetCapabilities'), { Scope: 'local', ConnectivityScope: 'global' });
    assert.equal(await h.call('/IpamDriver.GetCapabilities'), { RequiresMACAddress: false, RequiresRequestReplay: false });
    const s = await h.call('/IpamDriver.GetDefaultAddressSpaces');
    assert.ok(s.LocalDefaultAddressSpace !== '' && s.GlobalDefaultAddressSpace !== '');
  } finally {
    await h.stop();
  }
});

test('create with -o weft.network: the Weft network is created through the control plane; run, rm and network rm leave nothing behind', async () => {
  const control = fakeControl();
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { subnet: '10.40.1.0/24', opts: { 'weft.network': 'web', 'com.docker.network.driver.mtu': '1400' } });
    assert.is(n.gateway, '10.40.1.1/24');
    const w = [...control.networks.values()].find((x) => x.Name === 'web');
    assert.ok(w, 'Weft network "web" created');
    assert.equal(w!.Subnets[0]!.Subnet, '10.40.1.0/24');
    assert.ok(w!.Attachable);
    assert.is(w!.Options['com.docker.network.driver.mtu'], '1400');
    assert.is(w!.Options['weft.network'], undefined, 'weft.* options are the plugin\'s own');

    const c1 = await start(h, n);
    const c2 = await start(h, n);
    assert.is.not(c1.address, c2.address);
    assert.match(c1.address, /^10\.40\.1\.\d+\/24$/);
    assert.is(c1.join.Gateway, '10.40.1.1', 'a bare IP (Docker rejects a CIDR here)');
    assert.is(c1.join.InterfaceName.DstPrefix, 'eth');
    const port = h.dp.ports.get(`${w!.Id}/${c1.ep}`);
    assert.ok(port, 'the overlay programmed a port keyed by the Weft network ID');
    assert.is(port!.netns, undefined, 'created in the agent\'s namespace (dockerd\'s), for Docker to move');
    assert.is(port!.ifname, c1.join.InterfaceName.SrcName);
    assert.is(h.dp.networks.get(w!.Id)?.mtu, 1400, 'the TAP gets the network MTU');
    assert.is(h.dp.networks.get(w!.Id)?.vni, w!.VNIs[0], 'the manager\'s VNI');
    assert.equal(w!.Attachments.h1?.length, 2, 'attachments recorded with the control plane');
    const info = await h.call('/NetworkDriver.EndpointOperInfo', { NetworkID: n.id, EndpointID: c1.ep });
    assert.is(info.Value['weft.network'], 'web');

    await stop(h, n, c1);
    await stop(h, n, c2);
    assert.is(h.dp.ports.size, 0);
    assert.is(h.dp.networks.size, 0, 'the data path network is removed with the last endpoint');
    assert.is(w!.Attachments.h1, undefined);
    await removeNetwork(h, n);
    assert.is(control.networks.size, 0, 'Docker created the Weft network, Docker removed it');
    assert.equal(await ipamPools(h), [], 'no pool, gateway or address left in the IPAM');
  } finally {
    await h.stop();
  }
});

test('--subnet of an existing Weft network maps to it; network rm keeps it', async () => {
  const control = fakeControl();
  const existing = control.add({ Name: 'db', Subnet: '10.40.2.0/24' });
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { subnet: '10.40.2.0/24' });
    const c = await start(h, n);
    assert.ok(h.dp.ports.has(`${existing.Id}/${c.ep}`));
    await stop(h, n, c);
    await removeNetwork(h, n);
    assert.ok(control.networks.has(existing.Id), 'a Weft network Docker did not create survives docker network rm');
    assert.equal(await ipamPools(h), []);
  } finally {
    await h.stop();
  }
});

test('a Weft network of several subnets is programmed with all of them; addresses come from the newest block first', async () => {
  const control = fakeControl();
  const w = control.add({ Name: 'multi', Subnet: '10.41.0.0/24', Subnets: [{ Subnet: '10.41.0.0/24', Gateway: '10.41.0.1' }, { Subnet: '10.42.0.0/24', Gateway: '10.42.0.1' }] });
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { subnet: '10.41.0.0/24' });
    // Every subnet reaches the overlay (its gateways are answered by the switch) and has a pool.
    const c0 = await start(h, n);
    assert.equal([...(h.dp.networks.get(w.Id)?.gateways ?? [])], ['10.41.0.1/24', '10.42.0.1/24']);
    assert.match(JSON.stringify(await ipamPools(h)), /10\.42\.0\.0\/24/, 'the second subnet has an IPAM pool on this host');
    // Fill the first /28 block until the manager grants a second one.
    const started: Container[] = [c0];
    while ((control.blocks.get(w.Id) ?? []).length < 2) started.push(await start(h, n));
    const [first, second] = control.blocks.get(w.Id)!;
    assert.equal([first, second], ['10.41.0.0/28', '10.41.0.16/28']);
    // Free an address in the old block: the next container still gets one from the newest block
    // (asking every older block first made an attach O(blocks held)).
    const old = started.find((c) => c.address.startsWith('10.41.0.') && Number(c.address.split('.')[3]!.split('/')[0]) < 16)!;
    await stop(h, n, old);
    const next = await start(h, n);
    const last = Number(next.address.split('.')[3]!.split('/')[0]);
    assert.ok(last >= 16 && last < 32, `address ${next.address} comes from the newest block ${second}`);
    for (const c of [...started.filter((c) => c !== old), next]) await stop(h, n, c);
    await removeNetwork(h, n);
    assert.equal(await ipamPools(h), [], 'every pool of both subnets is released');
    assert.equal(control.blocks.get(w.Id), [], 'both blocks are given back');
  } finally {
    await h.stop();
  }
});

test('--ipam-opt weft.network=NAME picks the subnet of an existing Weft network; a wrong --gateway is refused', async () => {
  const control = fakeControl();
  control.add({ Name: 'app', Subnet: '10.40.3.0/24' });
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { ipamOpts: { 'weft.network': 'app' } });
    assert.is(n.gateway, '10.40.3.1/24');
    const c = await start(h, n);
    assert.match(c.address, /^10\.40\.3\./);
    const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '', SubPool: '', Options: { 'weft.network': 'app' }, V6: false });
    const e = await h.fail('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '10.40.3.9', Options: { RequestAddressType: GW } });
    assert.match(e, /gateway of Weft network "app" is 10\.40\.3\.1/);
  } finally {
    await h.stop();
  }
});

test('without --subnet: a new Weft network from the swarm\'s pools (removed with its pool), or, not allowed to create, an error saying how to name one', async () => {
  const control = fakeControl();
  const made = await testHost({ control });
  try {
    const p = await made.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-global', Pool: '', SubPool: '', Options: {}, V6: false });
    assert.is(p.Pool, '10.0.1.0/24', 'a subnet from the pools');
    const w = [...control.networks.values()].find((n) => n.Labels['weft.docker.created'] === 'true');
    assert.ok(w !== undefined && /^docker-[0-9a-f]{8}$/.test(w.Name) && w.Attachable, 'a docker-<hex> attachable Weft network');
    await made.call('/IpamDriver.ReleasePool', { PoolID: p.PoolID });
    assert.ok(![...control.networks.values()].some((n) => n.Labels['weft.docker.created'] === 'true'), 'a pool no Docker network took: its Weft network goes');
  } finally {
    await made.stop();
  }
  const h = await testHost({ control: fakeControl(), config: { createNetworks: false } });
  try {
    const e1 = await h.fail('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '', SubPool: '', Options: {}, V6: false });
    assert.match(e1, /give --subnet/i);
    const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.4.0/24', SubPool: '', Options: {}, V6: false });
    const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: GW } });
    const e2 = await h.fail('/NetworkDriver.CreateNetwork', { NetworkID: hex64(), Options: {}, IPv4Data: [{ AddressSpace: 'weft-local', Gateway: gw.Address, Pool: pool.Pool }], IPv6Data: [] });
    assert.match(e2, /-o weft\.network=NAME/);
    assert.match(await h.fail('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '', SubPool: '', Options: {}, V6: true }), /needs an IPv6 --subnet/);
    assert.match(await h.fail('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.9.0/24', SubPool: '', Options: {}, V6: true }), /is IPv4, but Docker asked for the IPv6 pool/);
  } finally {
    await h.stop();
  }
});

test('with WEFT_DOCKER_HOST the Docker network name is the Weft name, looked up when the first container starts', async () => {
  const control = fakeControl();
  const id = hex64();
  const containers: Record<string, string> = {};
  const h = await testHost({ control, config: { dockerHost: 'unix:///nonexistent.sock' }, host: fakeDockerHost({ [id]: 'shop' }, containers) });
  try {
    const n = await createNetwork(h, { subnet: '10.40.5.0/24', id });
    assert.is(control.networks.size, 0, 'dockerd stores the network only after CreateNetwork returns');
    const c = await start(h, n);
    const w = [...control.networks.values()].find((x) => x.Name === 'shop');
    assert.ok(w, 'created under the Docker network\'s name');
    assert.ok(h.dp.ports.has(`${w!.Id}/${c.ep}`));
    // dockerd knows the container once its start finished; its name is then published for Weft's DNS.
    containers[c.ep] = 'cart';
    const named = () => [...h.tables.rows.values()].some((r) => r.key === c.ep && decodeEndpointRecord(r.value)?.name === 'cart');
    for (let i = 0; i < 200 && !named(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(named(), 'the endpoint record carries the container name');
    await stop(h, n, c);
    await removeNetwork(h, n);
    assert.is(control.networks.size, 0);
  } finally {
    await h.stop();
  }
});

test('--opt encrypted: a clear error while the data path does not encrypt, a working network once it does', async () => {
  for (const encrypts of [false, true]) {
    const control = fakeControl();
    const h = await testHost({ control, encrypts });
    try {
      const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.6.0/24', SubPool: '', Options: {}, V6: false });
      const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: GW } });
      const req = { NetworkID: hex64(), Options: { 'com.docker.network.generic': { encrypted: '', 'weft.network': 'secret' } }, IPv4Data: [{ AddressSpace: 'weft-local', Gateway: gw.Address, Pool: pool.Pool }], IPv6Data: [] };
      const r = await h.k.invoke('weft', 'NetworkDriver.CreateNetwork', req);
      if (r._tag === 'Left') {
        assert.is(encrypts, false);
        assert.is(r.left.category, 'Unsupported');
        assert.match(r.left.message, /encrypt/);
        assert.is(control.networks.size, 0, 'nothing created cluster-wide');
        // Docker rolls back
        await h.call('/IpamDriver.ReleaseAddress', { PoolID: pool.PoolID, Address: gw.Address.split('/')[0] });
        await h.call('/IpamDriver.ReleasePool', { PoolID: pool.PoolID });
        assert.equal(await ipamPools(h), []);
      } else {
        // With an encrypting data path the overlay still wants a cipher; either way it is the overlay that decides.
        assert.is(encrypts, true);
        assert.ok([...control.networks.values()][0]?.Encrypted);
      }
    } finally {
      await h.stop();
    }
  }
});

test('state survives a plugin restart between every step (Docker never replays)', async () => {
  const control = fakeControl();
  const backing = new Map<string, Uint8Array>();
  let h = await testHost({ control, backing });
  const restart = async () => {
    await h.stop();
    h = await testHost({ control, backing });
  };
  try {
    const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.7.0/24', SubPool: '', Options: {}, V6: false });
    await restart();
    const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: GW } });
    await restart();
    const n: DockerNet = { id: hex64(), pool: pool.PoolID, gateway: gw.Address };
    await h.call('/NetworkDriver.CreateNetwork', { NetworkID: n.id, Options: { 'com.docker.network.generic': { 'weft.network': 'keep' } }, IPv4Data: [{ AddressSpace: 'weft-local', Gateway: gw.Address, Pool: pool.Pool }], IPv6Data: [] });
    await restart();
    const c1 = await start(h, n);
    await restart();
    const a = await h.call('/IpamDriver.RequestAddress', { PoolID: n.pool, Address: '', Options: null });
    assert.is.not(a.Address, c1.address, 'the address allocator kept its state');
    await restart();
    const ep = hex64();
    await h.call('/NetworkDriver.CreateEndpoint', { NetworkID: n.id, EndpointID: ep, Interface: { Address: a.Address, AddressIPv6: '', MacAddress: '' }, Options: {} });
    await restart();
    await h.call('/NetworkDriver.Join', { NetworkID: n.id, EndpointID: ep, SandboxKey: '/x/netns/abc', Options: {} });
    await restart();
    await stop(h, n, { ep, address: a.Address, join: { InterfaceName: { SrcName: 'x', DstPrefix: 'eth' } } });
    await restart();
    await stop(h, n, c1);
    await restart();
    await removeNetwork(h, n);
    assert.is(control.networks.size, 0);
    assert.equal(await ipamPools(h), []);
  } finally {
    await h.stop();
  }
});

test('replayed RequestPool/gateway (dockerd restart with replay) is the same network; a second Docker network on the subnet is refused', async () => {
  const control = fakeControl();
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { subnet: '10.40.8.0/24', opts: { 'weft.network': 'rp' } });
    const pool = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.8.0/24', SubPool: '', Options: {}, V6: false });
    const gw = await h.call('/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '10.40.8.1', Options: { RequestAddressType: GW } });
    assert.is(gw.Address, '10.40.8.1/24');
    const c = await start(h, { ...n, pool: pool.PoolID });
    assert.match(c.address, /^10\.40\.8\./, 'the replayed pool allocates from the same network');
    const e = await h.fail('/NetworkDriver.CreateNetwork', { NetworkID: hex64(), Options: {}, IPv4Data: [{ AddressSpace: 'weft-local', Gateway: gw.Address, Pool: '10.40.8.0/24' }], IPv6Data: [] });
    assert.match(e, /already backs Docker network/);
  } finally {
    await h.stop();
  }
});

test('concurrent container starts and removals (docker run x3 in parallel, docker rm -f x3)', async () => {
  const control = fakeControl();
  const h = await testHost({ control });
  try {
    const n = await createNetwork(h, { subnet: '10.40.9.0/24', opts: { 'weft.network': 'par' } });
    const cs = await Promise.all([1, 2, 3, 4, 5].map(() => start(h, n)));
    assert.is(new Set(cs.map((c) => c.address)).size, 5, 'distinct addresses');
    assert.is(new Set(cs.map((c) => c.join.InterfaceName.SrcName)).size, 5, 'distinct interfaces');
    assert.is(h.dp.ports.size, 5);
    // rm -f interleaves Revoke/Leave/DeleteEndpoint/Release of different endpoints
    await Promise.all(cs.map((c) => stop(h, n, c)));
    assert.is(h.dp.ports.size, 0);
    await removeNetwork(h, n);
    assert.equal(await ipamPools(h), []);
    assert.is(control.networks.size, 0);
  } finally {
    await h.stop();
  }
});

test('an interface Docker handed back after Leave is deleted by DeleteEndpoint', async () => {
  const dh = fakeDockerHost();
  const h = await testHost({ control: fakeControl(), host: dh });
  try {
    const n = await createNetwork(h, { subnet: '10.40.10.0/24', opts: { 'weft.network': 'back' } });
    const c = await start(h, n);
    await h.call('/NetworkDriver.Leave', { NetworkID: n.id, EndpointID: c.ep });
    dh.links.add(c.join.InterfaceName.SrcName); // as if Docker moved it back and it survived
    await h.call('/NetworkDriver.DeleteEndpoint', { NetworkID: n.id, EndpointID: c.ep });
    assert.not.ok(dh.links.has(c.join.InterfaceName.SrcName));
  } finally {
    await h.stop();
  }
});

test('after a restart a running container\'s TAP is re-attached where Docker put it (found by MAC)', async () => {
  const control = fakeControl();
  const backing = new Map<string, Uint8Array>();
  const dh = fakeDockerHost();
  let h = await testHost({ control, backing, host: dh });
  try {
    const n = await createNetwork(h, { subnet: '10.40.11.0/24', opts: { 'weft.network': 'ra' } });
    const c = await start(h, n);
    const w = [...control.networks.values()][0]!;
    const mac = h.dp.ports.get(`${w.Id}/${c.ep}`)!.mac;
    const key = `/tmp/weft-dockerd/run/exec/netns/${c.ep.slice(0, 12)}`;
    dh.sandboxes.set(key, new Map([[mac, { ifname: 'eth0', tap: true }]]));
    await h.stop();
    h = await testHost({ control, backing, host: dh });
    const p = h.dp.ports.get(`${w.Id}/${c.ep}`);
    assert.ok(p, 'port programmed again');
    assert.is(p!.netns, key, 'inside the container');
    assert.is(p!.dstName, 'eth0', 'under the name Docker gave it');
    await stop(h, n, c);
    await removeNetwork(h, n);
    assert.equal(await ipamPools(h), []);
  } finally {
    await h.stop();
  }
});

test('after a restart a running container\'s veth (kernel data path) is left as the overlay re-attached it: no Leave, which would delete the pair', async () => {
  const control = fakeControl();
  const backing = new Map<string, Uint8Array>();
  const dh = fakeDockerHost();
  let h = await testHost({ control, backing, host: dh });
  try {
    const n = await createNetwork(h, { subnet: '10.40.12.0/24', opts: { 'weft.network': 'rv' } });
    const c = await start(h, n);
    const w = [...control.networks.values()][0]!;
    const before = h.dp.ports.get(`${w.Id}/${c.ep}`)!;
    const key = `/tmp/weft-dockerd/run/exec/netns/${c.ep.slice(0, 12)}`;
    dh.sandboxes.set(key, new Map([[before.mac, { ifname: 'eth0', tap: false }]]));
    await h.stop();
    h = await testHost({ control, backing, host: dh });
    const p = h.dp.ports.get(`${w.Id}/${c.ep}`);
    assert.ok(p, 'port programmed again (by the overlay, from its store)');
    assert.is(p!.netns, undefined, 'not re-joined into the container');
    assert.is(p!.ifname, before.ifname, 'the same port as before the restart');
    assert.not.ok(h.dp.log.some((x) => x.startsWith('removePort')), `no removePort after the restart (log: ${h.dp.log.join('; ')})`);
    await stop(h, n, c);
    await removeNetwork(h, n);
    assert.equal(await ipamPools(h), []);
  } finally {
    await h.stop();
  }
});

test('--ipv6 (#22): a dual-stack Docker network: both pools, IPv6Data, a dual-stack Weft network; containers get both addresses and the IPv6 gateway; rm leaves nothing', async () => {
  const control = fakeControl();
  const h = await testHost({ control });
  try {
    // Docker 20.10: RequestPool v4, its gateway, RequestPool V6, its gateway, CreateNetwork with both.
    const p4 = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '10.40.20.0/24', SubPool: '', Options: {}, V6: false });
    const g4 = await h.call('/IpamDriver.RequestAddress', { PoolID: p4.PoolID, Address: '', Options: { RequestAddressType: GW } });
    const p6 = await h.call('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: 'fd00:40:20::/64', SubPool: '', Options: {}, V6: true });
    assert.is(p6.Pool, 'fd00:40:20::/64');
    const g6 = await h.call('/IpamDriver.RequestAddress', { PoolID: p6.PoolID, Address: '', Options: { RequestAddressType: GW } });
    assert.is(g6.Address, 'fd00:40:20::1/64');
    const id = hex64();
    await h.call('/NetworkDriver.CreateNetwork', {
      NetworkID: id,
      Options: { 'com.docker.network.enable_ipv6': true, 'com.docker.network.generic': { 'weft.network': 'ds' } },
      IPv4Data: [{ AddressSpace: 'weft-local', AuxAddresses: {}, Gateway: g4.Address, Pool: p4.Pool }],
      IPv6Data: [{ AddressSpace: 'weft-local', AuxAddresses: {}, Gateway: g6.Address, Pool: p6.Pool }],
    });
    const w = [...control.networks.values()].find((x) => x.Name === 'ds')!;
    assert.ok(w, 'Weft network "ds" created');
    assert.equal(w.Subnets.map((x) => [x.Subnet, x.Gateway]), [['10.40.20.0/24', '10.40.20.1'], ['fd00:40:20::/64', 'fd00:40:20::1']]);
    assert.is(w.EnableIPv6, true);
    // docker run: an address from each pool, then CreateEndpoint with both.
    const a4 = await h.call('/IpamDriver.RequestAddress', { PoolID: p4.PoolID, Address: '', Options: null });
    const a6 = await h.call('/IpamDriver.RequestAddress', { PoolID: p6.PoolID, Address: '', Options: null });
    assert.match(a4.Address, /^10\.40\.20\.\d+\/24$/);
    assert.is(a6.Address, 'fd00:40:20::2/64', 'from this node\'s first /124 block');
    const fixed = await h.call('/IpamDriver.RequestAddress', { PoolID: p6.PoolID, Address: 'fd00:40:20::99', Options: null });
    assert.is(fixed.Address, 'fd00:40:20::99/64', 'docker run --ip6');
    assert.match(await h.fail('/IpamDriver.RequestAddress', { PoolID: p6.PoolID, Address: 'fd00:41::5', Options: null }), /outside subnet fd00:40:20::\/64/);
    await h.call('/IpamDriver.ReleaseAddress', { PoolID: p6.PoolID, Address: 'fd00:40:20::99' });
    const ep = hex64();
    await h.call('/NetworkDriver.CreateEndpoint', { NetworkID: id, EndpointID: ep, Interface: { Address: a4.Address, AddressIPv6: a6.Address, MacAddress: '' }, Options: ports });
    const join = await h.call('/NetworkDriver.Join', { NetworkID: id, EndpointID: ep, SandboxKey: `/tmp/weft-dockerd/run/exec/netns/${ep.slice(0, 12)}`, Options: ports });
    assert.is(join.Gateway, '10.40.20.1');
    assert.is(join.GatewayIPv6, 'fd00:40:20::1', 'Docker adds the IPv6 default route');
    assert.equal(h.dp.networks.get(w.Id)?.gateways, ['10.40.20.1/24', 'fd00:40:20::1/64'], 'the overlay has both gateways');
    const port = h.dp.ports.get(`${w.Id}/${ep}`)!;
    assert.is(port.ipv6, 'fd00:40:20::2/64', 'the port has the IPv6 address');
    const row = [...h.tables.rows.values()].find((r) => r.key === ep);
    const rec = decodeEndpointRecord(row!.value)!;
    assert.is(rec.ipv6, 'fd00:40:20::2/64', 'the endpoint record carries it (AAAA on every host)');
    // docker rm -f; docker network rm (v4 gw, v4 pool, v6 gw, v6 pool, DeleteNetwork).
    await h.call('/NetworkDriver.Leave', { NetworkID: id, EndpointID: ep });
    await h.call('/NetworkDriver.DeleteEndpoint', { NetworkID: id, EndpointID: ep });
    await h.call('/IpamDriver.ReleaseAddress', { PoolID: p4.PoolID, Address: a4.Address.split('/')[0] });
    await h.call('/IpamDriver.ReleaseAddress', { PoolID: p6.PoolID, Address: a6.Address.split('/')[0] });
    await h.call('/IpamDriver.ReleaseAddress', { PoolID: p4.PoolID, Address: '10.40.20.1' });
    await h.call('/IpamDriver.ReleasePool', { PoolID: p4.PoolID });
    await h.call('/IpamDriver.ReleaseAddress', { PoolID: p6.PoolID, Address: 'fd00:40:20::1' });
    await h.call('/IpamDriver.ReleasePool', { PoolID: p6.PoolID });
    await h.call('/NetworkDriver.DeleteNetwork', { NetworkID: id });
    assert.is(control.networks.size, 0, 'Docker created the Weft network, Docker removed it');
    assert.equal(await ipamPools(h), [], 'no pool, gateway or address left in the IPAM');
    // An existing Weft network without IPv6: --ipv6 is refused at its IPv6 pool, naming it.
    control.add({ Name: 'v4only', Subnet: '10.40.21.0/24' });
    assert.match(await h.fail('/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: '', SubPool: '', Options: { 'weft.network': 'v4only' }, V6: true }), /Weft network "v4only" has no IPv6 subnet, but --ipv6 was given/);
  } finally {
    await h.stop();
  }
});

test('builtin IPAM is refused at CreateNetwork with a hint', async () => {
  const h = await testHost({ control: fakeControl() });
  try {
    const e = await h.fail('/NetworkDriver.CreateNetwork', { NetworkID: hex64(), Options: {}, IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '172.30.0.1/16', Pool: '172.30.0.0/16' }], IPv6Data: [] });
    assert.match(e, /--ipam-driver weft/);
  } finally {
    await h.stop();
  }
});

test('option mapping and address helpers', () => {
  const m = mapCreateOptions({ 'com.docker.network.generic': { encrypted: 'true', 'weft.network': 'x', foo: 'bar' }, 'com.docker.network.internal': true });
  assert.ok(m.ok);
  if (m.ok) {
    assert.equal(m.value.options, { encrypted: '', foo: 'bar' });
    assert.is(m.value.internal, true);
    assert.is(m.value.network, 'x');
  }
  assert.is(normaliseCidr('10.1.2.3/24'), '10.1.2.0/24');
  assert.is(firstHost('10.1.2.0/24'), '10.1.2.1');
});

test.run();
