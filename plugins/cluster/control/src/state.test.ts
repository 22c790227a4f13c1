import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WeftException } from '@weft/kernel';
import type { NetworkRecord } from './codecs.ts';
import { generateDataKey } from '@weft/kernel';
import * as S from './state.ts';
import { parseDuration } from './util.ts';
import { VniBitmap, VNI_MAX } from './vni.ts';

const key = (e: number) => generateDataKey(e);

function base(): S.NetState {
  return { Networks: {}, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 };
}
const ring0 = () => S.initialRingState(1000, 100, [key(1), key(2), key(3)], [key(1), key(2), key(3)]);
const add = (s: S.NetState, n: NetworkRecord): S.NetState => ({ ...s, Networks: { ...s.Networks, [n.Id]: n } });

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
  assert.equal(a.Subnets, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
  s = add(s, a);
  for (const x of a.VNIs) v.set(x);
  const b = S.createNetwork(s, { Name: 'b' }, 'id-b', 0, v);
  assert.is(b.Subnets[0]!.Subnet, '10.0.1.0/24');
  assert.equal(b.VNIs, [4097]);
  assert.match(err(() => S.createNetwork(s, { Name: 'a' }, 'x', 0, v)), 'network with name a already exists');
  assert.match(err(() => S.createNetwork(s, { Name: 'd', IPAM: { Config: [{ Subnet: '10.0.0.128/25' }] } }, 'x', 0, v)), 'overlaps subnet 10.0.0.0/24 of network "a"');
  assert.match(err(() => S.createNetwork(s, { Name: 'c', IPAM: { Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.9.9.9' }] } }, 'x', 0, v)), 'gateway 10.9.9.9 is not in subnet');
  assert.match(err(() => S.createNetwork(s, { Name: 'c', IPAM: { Config: [{ Subnet: '10.8.0.0/16' }, { Subnet: '10.8.1.0/24' }] } }, 'x', 0, v)), 'overlaps its own subnet');
});

test('ingress: overlay only, never attachable, one per swarm; recorded with Ingress: true and a free default subnet', () => {
  const v = new VniBitmap();
  let s = base();
  s = add(s, S.createNetwork(s, { Name: 'a' }, 'id-a', 0, v));
  const i = S.createNetwork(s, { Name: 'ingress', Driver: 'overlay', Ingress: true }, 'id-i', 0, v);
  assert.is(i.Ingress, true);
  assert.is(i.Attachable, false);
  assert.is(i.Subnets[0]!.Subnet, '10.0.1.0/24', 'the first /24 of the default pool that is free');
  assert.is(s.Networks['id-a']!.Ingress, undefined, 'other networks carry no Ingress field');
  assert.match(err(() => S.createNetwork(s, { Name: 'i2', Driver: 'overlay', Ingress: true, Attachable: true }, 'x', 0, v)), 'ingress network cannot be attachable');
  assert.match(err(() => S.createNetwork(s, { Name: 'i2', Driver: 'macvlan', Ingress: true }, 'x', 0, v)), 'only the overlay driver');
  assert.match(err(() => S.createNetwork(add(s, i), { Name: 'i2', Driver: 'overlay', Ingress: true }, 'x', 0, v)), 'an ingress network already exists: "ingress"');
});

test('vxlanid_list: one per subnet, in range, unique; bitmap allocation skips pinned IDs', () => {
  const v = new VniBitmap();
  const s = base();
  const opt = (x: string) => ({ 'com.docker.network.driver.overlay.vxlanid_list': x });
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt('1,2') }, 'x', 0, v)), 'lists 2 VXLAN IDs for 1 subnet');
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt(String(VNI_MAX + 1)) }, 'x', 0, v)), 'is not an integer from 1 to');
  assert.match(err(() => S.createNetwork(s, { Name: 'p', Options: opt('abc') }, 'x', 0, v)), 'VXLAN ID "abc"');
  const low = S.createNetwork(s, { Name: 'p', Options: opt('42') }, 'x', 0, v);
  assert.equal(low.VNIs, [42]);
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
  const r0 = ring0();
  const r1 = S.rotateRing(r0, 5000, key(4), key(4));
  assert.is(r1.Rotation, 1);
  assert.equal(r1.Keys.map((k) => k.Epoch), [2, 3, 4]);
  assert.is(r1.NextRotationAt, 5100);
  assert.is(S.wireRing(r1).Primary, 1);
  assert.is(S.wireRing(r1).Gossip[0]!.Epoch, 3, 'gossip primary first');
  // The same request replayed (expected rotation 0) is a no-op.
  assert.is(S.rotateRing(r1, 6000, key(5), key(5), 0), r1);
  assert.is(S.rotateRing(r1, 6000, key(2), key(2)), r1, 'an older epoch never enters the ring');
});

test('active endpoints are named; nodes resolve by ID, name or unique prefix; node views show the leader', () => {
  const v = new VniBitmap();
  const n = S.createNetwork(base(), { Name: 'n' }, 'n1', 0, v);
  assert.match(S.activeEndpoints(n, { w: ['sb'] }, (id) => `${id}-name`)!.message, 'has active endpoints on w-name (sb)');
  assert.is(S.activeEndpoints(n, {}, (id) => id), undefined);
  const plat = { OS: 'linux', Architecture: 'x86_64' };
  const m = S.newNodeRecord('m1abc', { Name: 'm', Addr: '127.0.0.1', PublicKey: '', Platform: plat }, 'manager', 0);
  const w = S.newNodeRecord('w1xyz', { Name: 'w', Addr: '127.0.0.2', PublicKey: '', Platform: plat }, 'worker', 0);
  const nodes = new Map([[m.ID, m], [w.ID, w]]);
  assert.is(S.findNode(nodes, 'self', 'm1abc').Name, 'm');
  assert.is(S.findNode(nodes, 'w', 'm1abc').ID, 'w1xyz');
  assert.is(S.findNode(nodes, 'w1', 'm1abc').ID, 'w1xyz');
  assert.match(err(() => S.findNode(nodes, 'zz', 'm1abc')), 'Node "zz" not found');
  assert.equal(S.nodeView(m, 'ready', 'm1abc', true).ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1' });
  assert.equal(S.nodeView(m, 'down', 'other', false).ManagerStatus, { Leader: false, Reachability: 'unreachable', Addr: '127.0.0.1' });
  assert.is(S.nodeView(w, 'ready', 'm1abc', false).ManagerStatus, undefined);
  assert.is(S.findNetwork({ n1: n }, 'n'.slice(0, 1))?.Id, 'n1', 'unique ID prefix resolves');
});

test('durations', () => {
  assert.is(parseDuration('12h'), 43_200_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1500ms'), 1500);
  assert.is(parseDuration('250'), 250);
  assert.is(parseDuration('12x'), undefined);
  assert.is(parseDuration(''), undefined);
});

test('IPv6 (#22): a v6 subnet without --ipv6 is refused before anything is recorded; dual-stack and v6-only are recorded', () => {
  const v = new VniBitmap();
  let s = base();
  // The repro: accepted before, then every attach failed.
  assert.is(err(() => S.createNetwork(s, { Name: 'v6net', Attachable: true, IPAM: { Config: [{ Subnet: '198.19.60.0/24' }, { Subnet: 'fd00:60::/64' }] } }, 'x', 0, v)), 'Cannot create network "v6net": subnet fd00:60::/64 is IPv6 but the network does not enable IPv6');
  assert.match(err(() => S.createNetwork(s, { Name: 'n', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00::/40' }] } }, 'x', 0, v)), 'must be /48 to /120');
  assert.match(err(() => S.createNetwork(s, { Name: 'n', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fe80::/64' }] } }, 'x', 0, v)), 'link-local');
  assert.match(err(() => S.createNetwork(s, { Name: 'n', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'ff05::/64' }] } }, 'x', 0, v)), 'multicast');
  assert.match(err(() => S.createNetwork(s, { Name: 'n', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:1::/64', Gateway: '10.0.0.1' }] } }, 'x', 0, v)), 'gateway 10.0.0.1 is IPv4 but subnet fd00:1::/64 is IPv6');
  const ds = S.createNetwork(s, { Name: 'ds', EnableIPv6: true, IPAM: { Config: [{ Subnet: '198.19.60.0/24' }, { Subnet: 'fd00:60::7/64' }] } }, 'id-ds', 0, v);
  assert.equal(ds.Subnets, [{ Subnet: '198.19.60.0/24', Gateway: '198.19.60.1' }, { Subnet: 'fd00:60::/64', Gateway: 'fd00:60::1' }]);
  assert.is(ds.EnableIPv6, true);
  s = add(s, ds);
  for (const x of ds.VNIs) v.set(x);
  assert.match(err(() => S.createNetwork(s, { Name: 'o', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:60::/48' }] } }, 'x', 0, v)), 'overlaps subnet fd00:60::/64 of network "ds"');
  // Only a v6 subnet given: an IPv4 subnet is picked beside it (Docker's dual-stack before 28).
  const only = S.createNetwork(s, { Name: 'only', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:61::/64' }] } }, 'id-only', 0, v);
  assert.equal(only.Subnets.map((x) => x.Subnet), ['10.0.0.0/24', 'fd00:61::/64'], 'IPv4 first, whatever the order given');
  assert.is(only.EnableIPv4, undefined, 'a dual-stack record has no EnableIPv4 field (absent: true)');
});

test('IPv6-only (#22, --ipv4=false): only the IPv6 subnet (given, or a /64 of the default pool), one VNI; nonsense refused', () => {
  const v = new VniBitmap();
  let s = base();
  const o = S.createNetwork(s, { Name: 'o6', Driver: 'overlay', EnableIPv6: true, EnableIPv4: false, IPAM: { Config: [{ Subnet: 'fd00:61::/64' }] } }, 'id-o6', 0, v);
  assert.equal(o.Subnets, [{ Subnet: 'fd00:61::/64', Gateway: 'fd00:61::1' }]);
  assert.is(o.EnableIPv4, false);
  assert.is(o.VNIs.length, 1);
  s = add(s, o);
  for (const x of o.VNIs) v.set(x);
  const p = S.createNetwork(s, { Name: 'p6', EnableIPv6: true, EnableIPv4: false }, 'id-p6', 0, v);
  assert.equal(p.Subnets.map((x) => x.Subnet), ['fd57:6566:7400::/64'], 'no IPv4 subnet picked');
  assert.is(err(() => S.createNetwork(s, { Name: 'x', EnableIPv4: false }, 'x', 0, v)).startsWith('Cannot create network "x": IPv4 is disabled (--ipv4=false) and IPv6 is not enabled'), true);
  assert.match(err(() => S.createNetwork(s, { Name: 'x', EnableIPv6: true, EnableIPv4: false, IPAM: { Config: [{ Subnet: '10.61.0.0/24' }, { Subnet: 'fd00:62::/64' }] } }, 'x', 0, v)), 'subnet 10.61.0.0/24 is IPv4 but the network disables IPv4');
});

test('IPv6 (#22): --ipv6 without a v6 subnet takes a /64 of the default v6 pool; --default-addr-pool accepts v6 pools', () => {
  const v = new VniBitmap();
  let s = base();
  const a = S.createNetwork(s, { Name: 'a', EnableIPv6: true }, 'id-a', 0, v);
  assert.equal(a.Subnets, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }, { Subnet: 'fd57:6566:7400::/64', Gateway: 'fd57:6566:7400::1' }]);
  s = add(s, a);
  const b = S.createNetwork(s, { Name: 'b', EnableIPv6: true, IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] } }, 'id-b', 0, v);
  assert.equal(b.Subnets.map((x) => x.Subnet), ['10.9.0.0/24', 'fd57:6566:7400:1::/64']);
  // Custom pools: a v6 pool replaces the v6 default; v4 keeps its own when none is given.
  const c = { Networks: {}, DefaultAddrPool: ['fd00:aa::/56'], SubnetSize: 24 };
  assert.equal(S.createNetwork(c, { Name: 'c', EnableIPv6: true }, 'id-c', 0, v).Subnets.map((x) => x.Subnet), ['10.0.0.0/24', 'fd00:aa::/64']);
  const full = add({ Networks: {}, DefaultAddrPool: ['10.0.0.0/8', 'fd00:aa::/64'], SubnetSize: 24 }, S.createNetwork({ Networks: {}, DefaultAddrPool: ['fd00:aa::/64'], SubnetSize: 24 }, { Name: 'f', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:aa::/64' }] } }, 'id-f', 0, v));
  assert.match(err(() => S.createNetwork(full, { Name: 'g', EnableIPv6: true }, 'x', 0, v)), 'could not find an available, non-overlapping IPv6 address pool among the defaults (fd00:aa::/64)');
  S.checkDefaultPools(['10.20.0.0/16', 'fd00:20::/48'], 24);
  assert.match(err(() => S.checkDefaultPools(['fd00:20::/72'], 24)), '--default-addr-pool fd00:20::/72 is smaller than the /64 subnets');
  assert.match(err(() => S.checkDefaultPools(['10.20.0.0/26'], 24)), 'smaller than the /24 subnets');
  assert.match(err(() => S.checkDefaultPools(['fe80::/48'], 24)), 'overlaps the link-local range');
  assert.match(err(() => S.checkDefaultPools(['10.0.0.0/8', '10.1.0.0/16'], 24)), 'overlaps pool 10.0.0.0/8');
  assert.match(err(() => S.checkDefaultPools(['10.0.0.0/8'], 64)), 'mask-length 64 is not an IPv4 prefix length');
  assert.match(err(() => S.checkDefaultPools(['nope'], 24)), '--default-addr-pool nope: invalid CIDR');
});

test('underlay family per network: a node of the other family is refused, naming it, its address and the nodes already there', () => {
  const net = S.createNetwork(base(), { Name: 'web' }, 'id-web', 0, new VniBitmap());
  const node = (id: string, addr: string, dp?: string) =>
    S.newNodeRecord(id, { Name: id, Addr: addr, PublicKey: '', Platform: { OS: 'linux', Architecture: 'x64' }, ...(dp !== undefined ? { DataPathAddr: dp } : {}) }, 'worker', 0);
  const h1 = node('h1', '198.18.0.1');
  const h2 = node('h2', 'fd18::2');
  const h3 = node('h3', '198.18.0.3', 'fd18::3');
  const h4 = node('h4', 'fd18::4', '198.18.0.4');
  assert.is(S.underlayFamilyConflict(net, h1, []), undefined, 'the first node sets the family');
  assert.is(S.underlayFamilyConflict(net, h1, [h1, h4]), undefined, 'the data-path address counts, not the advertise address');
  assert.is(S.underlayFamilyConflict(net, h2, [h3]), undefined);
  const e = S.underlayFamilyConflict(net, h3, [h1, h4]);
  assert.ok(e !== undefined);
  assert.is(e!.code, S.Codes.underlayFamily);
  assert.is(e!.message, "Cannot attach node h3 to network web: its data-path address fd18::3 is IPv6, but the network's other nodes use IPv4 (h1 198.18.0.1, h4 198.18.0.4); VXLAN cannot cross address families, so its frames would be lost");
  assert.match(e!.hint ?? '', '--data-path-addr');
  assert.is(S.underlayFamilyConflict(net, h2, [h1, { ...h4, Left: true }])?.message.includes('(h1 198.18.0.1)'), true, 'nodes that left are not counted');
});

test.run();
