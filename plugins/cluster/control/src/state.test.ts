import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { memoryStore, WeftException } from '@weft/kernel';
import { generateDataKey } from '@weft/kernel';
import { ipamBlockAllocator } from '@weft/ipam';
import { Manager } from './manager.ts';
import * as S from './state.ts';
import { parseDuration } from './util.ts';
import { VniBitmap, VNI_MAX } from './vni.ts';

const key = (e: number) => generateDataKey(e);

function base(): S.ClusterState {
  return {
    Version: 1,
    ClusterID: 'c',
    CreatedAt: new Date(0).toISOString(),
    ManagerKey: { PublicKey: '', SecretKey: '' },
    NodeID: 'm',
    ListenAddr: '127.0.0.1:2377',
    BindAddr: '127.0.0.1:2377',
    Tokens: { worker: 'w', manager: 'm' },
    Nodes: {},
    Networks: {},
    Ring: S.initialRingState(1000, 100, [key(1), key(2), key(3)], [key(1), key(2), key(3)]),
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    Seq: 0,
  };
}

const err = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof WeftException) return e.error.message;
    throw e;
  }
  throw new Error('expected a WeftException');
};

test('default subnets skip those in use; explicit ones are normalised with a gateway', () => {
  const v = new VniBitmap();
  let s = base();
  const a = S.createNetwork(s, { Name: 'a', IPAM: { Config: [{ Subnet: '10.0.0.7/24' }] } }, 'id-a', 0, v);
  assert.equal(a.network.Subnets, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
  s = a.state;
  for (const x of a.network.VNIs) v.set(x);
  const b = S.createNetwork(s, { Name: 'b' }, 'id-b', 0, v);
  assert.is(b.network.Subnets[0]!.Subnet, '10.0.1.0/24');
  assert.equal(b.network.VNIs, [4097]);
  assert.is(b.state.Seq, 2);
  assert.match(err(() => S.createNetwork(s, { Name: 'c', IPAM: { Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.9.9.9' }] } }, 'x', 0, v)), 'gateway 10.9.9.9 is not in subnet');
  assert.match(err(() => S.createNetwork(s, { Name: 'c', IPAM: { Config: [{ Subnet: '10.8.0.0/16' }, { Subnet: '10.8.1.0/24' }] } }, 'x', 0, v)), 'overlaps its own subnet');
});

test('ingress: overlay only, never attachable, one per swarm; recorded with Ingress: true and a free default subnet', () => {
  const v = new VniBitmap();
  let s = base();
  s = S.createNetwork(s, { Name: 'a' }, 'id-a', 0, v).state;
  const i = S.createNetwork(s, { Name: 'ingress', Driver: 'overlay', Ingress: true }, 'id-i', 0, v);
  assert.is(i.network.Ingress, true);
  assert.is(i.network.Attachable, false);
  assert.is(i.network.Subnets[0]!.Subnet, '10.0.1.0/24', 'the first /24 of the default pool that is free');
  assert.is(s.Networks['id-a']!.Ingress, undefined, 'other networks carry no Ingress field');
  assert.match(err(() => S.createNetwork(s, { Name: 'i2', Driver: 'overlay', Ingress: true, Attachable: true }, 'x', 0, v)), 'ingress network cannot be attachable');
  assert.match(err(() => S.createNetwork(s, { Name: 'i2', Driver: 'macvlan', Ingress: true }, 'x', 0, v)), 'only the overlay driver');
  assert.match(err(() => S.createNetwork(i.state, { Name: 'i2', Driver: 'overlay', Ingress: true }, 'x', 0, v)), 'an ingress network already exists: "ingress"');
});

test('vxlanid_list: one per subnet, in range, unique; bitmap allocation skips pinned IDs', () => {
  const v = new VniBitmap();
  const s = base();
  const opt = (x: string) => ({ 'com.docker.network.driver.overlay.vxlanid_list': x });
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt('1,2') }, 'x', 0, v)), 'lists 2 VXLAN IDs for 1 subnet');
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt(String(VNI_MAX + 1)) }, 'x', 0, v)), 'is not an integer from 1 to');
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt('abc') }, 'x', 0, v)), 'VXLAN ID "abc"');
  const low = S.createNetwork(s, { Name: 'p', Options: opt('42') }, 'x', 0, v);
  assert.equal(low.network.VNIs, [42]);
  v.set(4096);
  v.set(4097);
  assert.is(v.findFree(), 4098);
  for (let i = 4096; i < 4096 + 64; i++) v.set(i);
  assert.is(v.findFree(), 4160);
  assert.is(v.findFree(4096, new Set([4160])), 4161);
  v.clear(4100);
  assert.is(v.findFree(), 4100);
});

test('rotateRing drops the oldest, appends, and ignores a replayed rotation', () => {
  const s = base();
  const r1 = S.rotateRing(s, 5000, key(4), key(4));
  assert.is(r1.Ring.Rotation, 1);
  assert.equal(r1.Ring.Keys.map((k) => k.Epoch), [2, 3, 4]);
  assert.is(r1.Ring.NextRotationAt, 5100);
  assert.is(S.wireRing(r1.Ring).Primary, 1);
  assert.is(S.wireRing(r1.Ring).Gossip[0]!.Epoch, 3, 'gossip primary first');
  // The same request replayed (expected rotation 0) is a no-op.
  assert.is(S.rotateRing(r1, 6000, key(5), key(5), 0), r1);
  assert.is(S.rotateRing(r1, 6000, key(2), key(2)), r1, 'an older epoch never enters the ring');
});

test('node removal drops its attachments; the holder of the state cannot be removed', () => {
  const v = new VniBitmap();
  let s = S.addNode(base(), 'm', { Name: 'm', Addr: '127.0.0.1', PublicKey: '', Platform: { OS: 'linux', Architecture: 'x86_64' } }, 'manager', 0);
  s = S.addNode(s, 'w', { Name: 'w', Addr: '127.0.0.2', PublicKey: '', Platform: { OS: 'linux', Architecture: 'x86_64' } }, 'worker', 0);
  s = S.createNetwork(s, { Name: 'n' }, 'n1', 0, v).state;
  s = S.attach(s, 'n', 'w', 'sb').state;
  s = S.attach(s, 'n', 'w', 'sb').state;
  assert.equal(s.Networks.n1!.Attachments, { w: ['sb'] });
  assert.match(err(() => S.removeNetwork(s, 'n')), 'has active endpoints on w (sb)');
  assert.match(err(() => S.removeNode(s, 'w', false, () => true)), "is not down and can't be removed");
  const r = S.removeNode(s, 'w', false, () => false);
  assert.equal(r.state.Networks.n1!.Attachments, {});
  assert.is(r.state.Nodes.w, undefined);
  assert.match(err(() => S.removeNode(s, 'm', true, () => false)), 'holds the cluster state');
  assert.is(S.detach(s, 'n1', 'w', 'sb').network.Attachments.w, undefined);
  assert.is(S.findNetwork(s.Networks, 'n1'.slice(0, 1))?.Id, 'n1', 'unique ID prefix resolves');
});

test('durations', () => {
  assert.is(parseDuration('12h'), 43_200_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1500ms'), 1500);
  assert.is(parseDuration('250'), 250);
  assert.is(parseDuration('12x'), undefined);
  assert.is(parseDuration(''), undefined);
});

test('Manager persists through a kernel Store (memoryStore) and resumes from it', async () => {
  const backing = new Map<string, Uint8Array>();
  const m = await Manager.init({ store: memoryStore(backing), blocks: ipamBlockAllocator() }, { host: '127.0.0.1', port: 0, nodeName: 'm', platform: { OS: 'linux', Architecture: 'x86_64' } });
  try {
    await m.createNetwork({ Name: 'a' });
    await m.rotateKeys();
  } finally {
    await m.close();
  }
  const again = await Manager.open({ store: memoryStore(backing), blocks: ipamBlockAllocator() });
  try {
    assert.ok(again !== undefined);
    assert.is(again!.listNetworks()[0]!.Name, 'a');
    assert.is(again!.ringInfo().Rotation, 1);
    assert.is(again!.address, m.address);
    assert.is(await Manager.open({ store: memoryStore(), blocks: ipamBlockAllocator() }), undefined);
    assert.is((await again!.requestBlock('n1', { Network: 'a' })).Block, '10.0.0.0/28');
  } finally {
    await again?.close();
  }
  // A crash between the cluster write and the block-table write: the table is rebuilt on open.
  for (const k of [...backing.keys()]) if (k.startsWith('blocks/')) backing.delete(k);
  const third = await Manager.open({ store: memoryStore(backing), blocks: ipamBlockAllocator() });
  try {
    assert.is((await third!.requestBlock('n2', { Network: 'a' })).Block, '10.0.0.0/28');
  } finally {
    await third?.close();
  }
});

test.run();
