/**
 * The host network instance over the real IPAM plugin, a recording network driver and a control
 * plane that grants /28 blocks: several subnets, the newest block first, sharing a network with
 * another user on the host, rollback and teardown.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as t from 'io-ts';
import { createKernel, definePlugin, errors, method, raise, WeftException, type Context, type Kernel } from '@weft/kernel';
import { ipamBlockAllocator, ipamPlugin } from '@weft/ipam';
import { HostNetwork, inSubnet, poolFamily, type Instance, type NetworkSpec } from './mod.ts';

interface Rig {
  readonly k: Kernel;
  /** Two users of the host's networks (the engine and the Docker plugin, say). */
  readonly a: HostNetwork;
  readonly b: HostNetwork;
  readonly created: unknown[];
  readonly deleted: string[];
  readonly granted: string[];
  failCreate: boolean;
}

async function rig(): Promise<Rig> {
  const created: unknown[] = [];
  const deleted: string[] = [];
  const granted: string[] = [];
  const nets = new Set<string>();
  const alloc = ipamBlockAllocator();
  const r = { created, deleted, granted, failCreate: false } as Rig;
  const ctxs: Context<unknown>[] = [];
  const k = createKernel({});
  const loaded = await k.load([
    { plugin: ipamPlugin() },
    {
      plugin: definePlugin({
        manifest: { name: 'drv', version: '0.0.0', kernel: '*', provides: ['NetworkDriver'] },
        handlers: {
          NetworkDriver: {
            GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'global' }),
            CreateNetwork: (req) => {
              if (r.failCreate) raise(errors.badRequest('drv', 'refused'));
              if (nets.has(req.NetworkID)) raise(errors.conflict('drv', 'exists'));
              nets.add(req.NetworkID);
              created.push(req);
              return {};
            },
            DeleteNetwork: (req) => (nets.delete(req.NetworkID), deleted.push(req.NetworkID), {}),
            CreateEndpoint: () => ({}),
            DeleteEndpoint: () => ({}),
            Join: () => ({ InterfaceName: { SrcName: 'x', DstPrefix: 'eth' } }),
            Leave: () => ({}),
            EndpointOperInfo: () => ({ Value: {} }),
          },
        },
      }),
    },
    {
      plugin: definePlugin({
        manifest: { name: 'control', version: '0.0.0', kernel: '*', provides: ['Blocks'] },
        methods: [method('Blocks', 'Request', t.unknown, t.unknown), method('Blocks', 'Release', t.unknown, t.unknown)],
        handlers: {
          Blocks: {
            // The manager's real block tables (/28 for IPv4, /124 for IPv6), one per subnet.
            Request: (i: { Subnet: string }) => {
              alloc.addPool(i.Subnet, i.Subnet);
              const block = alloc.grant(i.Subnet, 'h1');
              granted.push(block);
              return { Block: block };
            },
            Release: (i: { Block: string }) => {
              const key = alloc.blocksOf('h1').find((b) => b.blocks.includes(i.Block))!.key;
              alloc.release(key, 'h1', i.Block);
              granted.splice(granted.indexOf(i.Block), 1);
              return {};
            },
          },
        },
      }),
    },
    { plugin: definePlugin({ manifest: { name: 'user-a', version: '0.0.0', kernel: '*', provides: [] }, start: (ctx) => void ctxs.push(ctx) }) },
    { plugin: definePlugin({ manifest: { name: 'user-b', version: '0.0.0', kernel: '*', provides: [] }, start: (ctx) => void ctxs.push(ctx) }) },
  ]);
  if (loaded._tag === 'Left') throw new Error(loaded.left.map((e) => e.message).join('; '));
  return Object.assign(r, { k, a: new HostNetwork(ctxs[0]!, { ipam: 'ipam' }), b: new HostNetwork(ctxs[1]!, { ipam: 'ipam' }) });
}

const def = (o: Partial<NetworkSpec> = {}): NetworkSpec => ({
  Id: 'n1',
  Name: 'web',
  Scope: 'swarm',
  Options: {},
  Internal: false,
  Encrypted: false,
  EnableIPv6: false,
  Subnets: [
    { Subnet: '10.41.0.0/24', Gateway: '10.41.0.1' },
    { Subnet: '10.42.0.0/24', Gateway: '10.42.0.1', AuxiliaryAddresses: { router: '10.42.0.9' } },
  ],
  VNIs: [4097],
  ...o,
});

const pools = async (k: Kernel) => {
  const r = await k.invoke<{ Pools: { PoolID: string }[] }>('ipam', 'Ipam.Utilisation', {});
  if (r._tag === 'Left') throw new Error(r.left.message);
  return r.right.Pools;
};
const noSave = { blocks: true, save: async () => {} };
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeftException) return e.error.message;
    throw e;
  }
  throw new Error('expected a refusal');
};

test('every subnet gets a pool and gateway, and reaches the driver with its aux addresses', async () => {
  const r = await rig();
  const inst = await r.a.instantiate(def(), 'drv');
  assert.equal(inst.pools.map((p) => [p.subnet, p.gatewayCidr]), [['10.41.0.0/24', '10.41.0.1/24'], ['10.42.0.0/24', '10.42.0.1/24']]);
  const req = r.created[0] as { IPv4Data: { Pool: string; Gateway: string; AuxAddresses: Record<string, string> }[]; Options: Record<string, Record<string, string>> };
  assert.equal(req.IPv4Data.map((d) => [d.Pool, d.Gateway]), [['10.41.0.0/24', '10.41.0.1/24'], ['10.42.0.0/24', '10.42.0.1/24']]);
  assert.equal(req.IPv4Data[1]!.AuxAddresses, { router: '10.42.0.9/24' });
  assert.is(req.Options['com.docker.network.generic']!['com.docker.network.driver.overlay.vxlanid_list'], '4097');
  await r.a.teardown(inst, { releaseBlocks: true });
  assert.equal(await pools(r.k), [], 'every pool released');
  assert.equal(r.deleted, ['n1']);
});

test('addresses come from the newest block first; a new block when all are full; blocks given back', async () => {
  const r = await rig();
  const inst = await r.a.instantiate(def(), 'drv');
  const got: string[] = [];
  while (r.granted.length < 2) got.push((await r.a.allocate(def(), inst, undefined, noSave)).address);
  assert.equal(inst.pools[0]!.blocks.map((b) => b.block), ['10.41.0.0/28', '10.41.0.16/28']);
  // Free one address in the old block: the next one still comes from the newest block.
  const old = got.find((a) => inSubnet(a, '10.41.0.0/28'))!;
  await r.k.invoke('ipam', 'IpamDriver.ReleaseAddress', { PoolID: inst.pools[0]!.blocks[0]!.poolId, Address: old.split('/')[0] });
  const next = await r.a.allocate(def(), inst, undefined, noSave);
  assert.ok(inSubnet(next.address, '10.41.0.16/28'), `${next.address} is from the newest block`);
  // A specific address comes from the pool of its subnet.
  const fixed = await r.a.allocate(def(), inst, '10.42.0.50', noSave);
  assert.is(fixed.poolId, inst.pools[1]!.poolId);
  await r.a.teardown(inst, { releaseBlocks: true });
  assert.equal(r.granted, [], 'both blocks released to the manager');
});

test('a second user on the host shares the gateway and the driver network, and removes only what it made', async () => {
  const r = await rig();
  const ia = await r.a.instantiate(def(), 'drv');
  const ib = await r.b.instantiate(def(), 'drv');
  assert.is(ib.driverOwned, false, 'the driver network was there already');
  assert.equal(ib.pools.map((p) => p.gatewayHeld), [false, false], 'the gateways were held already');
  assert.equal(ib.pools.map((p) => p.gatewayCidr), ['10.41.0.1/24', '10.42.0.1/24']);
  await r.b.teardown(ib, { releaseBlocks: true });
  assert.equal(r.deleted, [], 'the first user still has its network');
  assert.is((await pools(r.k)).length, 2, "the first user's pools remain");
  await r.a.teardown(ia, { releaseBlocks: true });
  assert.equal(r.deleted, ['n1']);
  assert.equal(await pools(r.k), []);
});

test('a refused CreateNetwork gives back every pool and address taken', async () => {
  const r = await rig();
  r.failCreate = true;
  try {
    await r.a.instantiate(def(), 'drv');
    assert.unreachable('CreateNetwork was refused');
  } catch (e) {
    assert.match(String((e as { error?: { message: string } }).error?.message ?? e), /refused/);
  }
  assert.equal(await pools(r.k), []);
});

test('inSubnet', () => {
  assert.ok(inSubnet('10.0.0.5', '10.0.0.0/24'));
  assert.ok(inSubnet('10.0.0.5/24', '10.0.0.0/24'));
  assert.not.ok(inSubnet('10.0.1.5', '10.0.0.0/24'));
  assert.not.ok(inSubnet('fd00::1', '10.0.0.0/24'));
  assert.not.ok(inSubnet('10.0.0.5', 'bogus'));
  assert.ok(inSubnet('fd00::1/64', 'fd00::/64'));
  assert.not.ok(inSubnet('fd00:1::1', 'fd00::/64'));
  assert.not.ok(inSubnet('10.0.0.5', 'fd00::/64'));
});

const dual = (o: Partial<NetworkSpec> = {}): NetworkSpec => def({ Id: 'n6', Name: 'ds', EnableIPv6: true, Subnets: [{ Subnet: '10.43.0.0/24', Gateway: '10.43.0.1' }, { Subnet: 'fd00:43::/64', Gateway: '' }], ...o });
const byFamily = (inst: Instance) => inst.pools.map((p) => [poolFamily(p), p.subnet, p.gatewayCidr]);

test('IPv6 (#22): a dual-stack network gets an IPv6 pool and gateway, and the driver gets IPv6Data', async () => {
  const r = await rig();
  const inst = await r.a.instantiate(dual(), 'drv');
  assert.equal(byFamily(inst), [[4, '10.43.0.0/24', '10.43.0.1/24'], [6, 'fd00:43::/64', 'fd00:43::1/64']]);
  const req = r.created[0] as { IPv4Data: { Pool: string }[]; IPv6Data: { Pool: string; Gateway: string }[]; Options: Record<string, unknown> };
  assert.equal(req.IPv4Data.map((d) => d.Pool), ['10.43.0.0/24']);
  assert.equal(req.IPv6Data.map((d) => [d.Pool, d.Gateway]), [['fd00:43::/64', 'fd00:43::1/64']]);
  assert.is(req.Options['com.docker.network.enable_ipv6'], true);
  await r.a.teardown(inst, { releaseBlocks: true });
  assert.equal(await pools(r.k), []);
});

test('IPv6 (#22): per-host /124 blocks of the IPv6 subnet, newest first, a new one when full; v4 unaffected', async () => {
  const r = await rig();
  const inst = await r.a.instantiate(dual(), 'drv');
  const v6 = { ...noSave, family: 6 as const };
  const got: string[] = [];
  for (let i = 0; i < 15; i++) got.push((await r.a.allocate(dual(), inst, undefined, v6)).address);
  // Block fd00:43::/124 holds ::0..::f; :: is reserved and ::1 is the gateway.
  assert.is(got[0], 'fd00:43::2/64');
  assert.is(got[13], 'fd00:43::f/64');
  assert.is(got[14], 'fd00:43::10/64', 'the 15th address comes from the second block');
  assert.equal(r.granted, ['fd00:43::/124', 'fd00:43::10/124']);
  const v4 = await r.a.allocate(dual(), inst, undefined, noSave);
  assert.is(v4.address, '10.43.0.2/24');
  const specific = await r.a.allocate(dual(), inst, 'fd00:43::77', v6);
  assert.is(specific.address, 'fd00:43::77/64');
  assert.match(await refusal(r.a.allocate(dual(), inst, '10.43.0.9', v6)), 'address 10.43.0.9 is not an IPv6 address');
  await r.a.teardown(inst, { releaseBlocks: true });
  assert.equal(r.granted, []);
  assert.equal(await pools(r.k), []);
});

test('IPv6 (#22): --ipv6 on a local network without an IPv6 subnet takes one of the IPAM\'s IPv6 pools; v4-only has no IPv6 address', async () => {
  const r = await rig();
  const inst = await r.a.instantiate(def({ Id: 'l6', Name: 'l6', Scope: 'local', EnableIPv6: true, Subnets: [{ Subnet: '10.44.0.0/24', Gateway: '' }] }), 'drv');
  assert.equal(byFamily(inst), [[4, '10.44.0.0/24', '10.44.0.1/24'], [6, 'fd57:6566:7401::/64', 'fd57:6566:7401::1/64']]);
  assert.is((await r.a.allocate(def(), inst, undefined, { blocks: false, save: async () => {}, family: 6 })).address, 'fd57:6566:7401::2/64');
  const v6first = await r.a.instantiate(def({ Id: 'l7', Name: 'l7', Scope: 'local', EnableIPv6: true, Subnets: [{ Subnet: 'fd00:47::/64', Gateway: '' }] }), 'drv');
  assert.equal(byFamily(v6first), [[4, '172.17.0.0/16', '172.17.0.1/16'], [6, 'fd00:47::/64', 'fd00:47::1/64']], 'only IPv6 given: an IPv4 pool is picked too, and comes first');
  const v4only = await r.a.instantiate(def({ Id: 'l4', Name: 'l4', Scope: 'local', Subnets: [{ Subnet: '10.45.0.0/24', Gateway: '' }] }), 'drv');
  assert.match(await refusal(r.a.allocate(def({ Name: 'l4' }), v4only, undefined, { blocks: false, save: async () => {}, family: 6 })), 'network l4 has no IPv6 subnet');
});

test('IPv6-only (#22, EnableIPv4 false): only an IPv6 pool (given or picked), IPv6Data alone, v6 addresses from /124 blocks, no IPv4 address', async () => {
  const r = await rig();
  const only = def({ Id: 'o6', Name: 'o6', EnableIPv6: true, EnableIPv4: false, Subnets: [{ Subnet: 'fd00:61::/64', Gateway: '' }] });
  const inst = await r.a.instantiate(only, 'drv');
  assert.equal(byFamily(inst), [[6, 'fd00:61::/64', 'fd00:61::1/64']]);
  const req = r.created[0] as { IPv4Data: unknown[]; IPv6Data: { Pool: string }[] };
  assert.equal(req.IPv4Data, []);
  assert.equal(req.IPv6Data.map((d) => d.Pool), ['fd00:61::/64']);
  assert.is((await r.a.allocate(only, inst, undefined, { ...noSave, family: 6 })).address, 'fd00:61::2/64');
  assert.equal(r.granted, ['fd00:61::/124']);
  assert.match(await refusal(r.a.allocate(only, inst, undefined, noSave)), 'network o6 has no IPv4 subnet');
  await r.a.teardown(inst, { releaseBlocks: true });
  assert.equal(await pools(r.k), []);
  // No subnet given: IPAM picks an IPv6 one, and no IPv4 pool is taken.
  const picked = await r.a.instantiate(def({ Id: 'p6', Name: 'p6', Scope: 'local', EnableIPv6: true, EnableIPv4: false, Subnets: [] }), 'drv');
  assert.equal(byFamily(picked).map((x) => x[0]), [6]);
  assert.match(await refusal(r.a.instantiate(def({ Id: 'x6', Name: 'x6', EnableIPv6: true, EnableIPv4: false, Subnets: [{ Subnet: '10.61.0.0/24', Gateway: '' }] }), 'drv')), 'is IPv4 but the network disables IPv4');
});

test('IPv6 (#22): a definition with an unusable IPv6 subnet is refused on the host, nothing taken', async () => {
  const r = await rig();
  assert.match(await refusal(r.a.instantiate(dual({ EnableIPv6: false }), 'drv')), 'subnet fd00:43::/64 is IPv6 but the network does not enable IPv6');
  assert.equal(await pools(r.k), []);
  assert.equal(r.created, []);
});

test.run();
