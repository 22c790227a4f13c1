/**
 * Several managers on one cluster store (the kernel's memoryClusterStore standing in for etcd;
 * the agent e2e tests run the same against real etcd): races decided by transactions, attaches
 * spread over managers, leader failover, upgrade from the single-record format, refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonValue, memoryClusterStore, memoryStore, putJson, WeftException, type ClusterStore, type Store } from '@weft/kernel';
import { ipamBlockAllocator } from '@weft/ipam';
import { Manager, type ManagerOptions } from './manager.ts';
import { convertV1, type ClusterStateV1 } from './migrate.ts';
import { K } from './keys.ts';
import * as S from './state.ts';
import { newId, sodium, toB64 } from './util.ts';

const plat = { OS: 'linux', Architecture: 'x86_64' };

/** A store handle that can be cut off (a manager that crashed: no renewals, no revoke). */
function cuttable(store: ClusterStore): ClusterStore & { cut(): void } {
  let cut = false;
  const guard = <T>(f: () => Promise<T>): Promise<T> => (cut ? Promise.reject(new Error('cut off')) : f());
  return {
    get: (k) => guard(() => store.get(k)),
    range: (p, o) => guard(() => store.range(p, o)),
    put: (k, v, o) => guard(() => store.put(k, v, o)),
    delete: (k) => guard(() => store.delete(k)),
    txn: (r) => guard(() => store.txn(r)),
    watch: (p, o) => store.watch(p, o),
    grantLease: (t) => guard(() => store.grantLease(t)),
    keepAlive: (l) => guard(() => store.keepAlive(l)),
    revokeLease: (l) => guard(() => store.revokeLease(l)),
    compact: (r) => guard(() => store.compact(r)),
    status: () => guard(() => store.status()),
    close: async () => {},
    cut: () => void (cut = true),
  };
}

function opts(cluster: ClusterStore, local: Store = memoryStore(), extra: Partial<ManagerOptions> = {}): ManagerOptions {
  return { local, cluster, storeConfig: { URL: 'memory://test' }, shared: true, blocks: ipamBlockAllocator(), leaseTtlSeconds: 1, ...extra };
}

async function swarm(n: number) {
  const store = memoryClusterStore();
  const handles = Array.from({ length: n }, () => cuttable(store));
  const first = await Manager.init(opts(handles[0]!), { host: '127.0.0.1', port: 0, nodeName: 'm1', platform: plat });
  const all = [first];
  for (let i = 1; i < n; i++) {
    const id = newId();
    const kp = sodium.crypto_sign_keypair();
    await first.writes.addNode(S.newNodeRecord(id, { Name: `m${i + 1}`, Addr: '127.0.0.1', PublicKey: toB64(kp.publicKey), Platform: plat }, 'manager', Date.now()));
    all.push(await Manager.join(opts(handles[i]!), { host: '127.0.0.1', port: 0, advertise: '127.0.0.1', nodeId: id, clusterId: first.clusterId, nodeKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) } }));
  }
  return { store, handles, managers: all, close: async () => { for (const m of all) await m.close().catch(() => undefined); await store.close(); } };
}

const until = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
};

const message = (e: unknown) => (e instanceof WeftException ? e.error.message : String(e));

test('two managers create overlapping subnets at the same moment: exactly one succeeds; same for names', async () => {
  const s = await swarm(3);
  try {
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled([
        s.managers[0]!.createNetwork({ Name: `a${round}`, IPAM: { Config: [{ Subnet: `10.${round}.0.0/16` }] } }),
        s.managers[1]!.createNetwork({ Name: `b${round}`, IPAM: { Config: [{ Subnet: `10.${round}.128.0/17` }] } }),
        s.managers[2]!.createNetwork({ Name: `a${round}`, IPAM: { Config: [{ Subnet: `172.${16 + round}.0.0/24` }] } }),
      ]);
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      assert.ok(ok >= 1 && ok <= 2, `round ${round}: ${ok} succeeded`);
      // The two 10.x requests overlap: never both; the two named a<round>: never both.
      assert.ok(!(results[0]!.status === 'fulfilled' && results[1]!.status === 'fulfilled'), 'overlapping subnets both created');
      assert.ok(!(results[0]!.status === 'fulfilled' && results[2]!.status === 'fulfilled'), 'one name created twice');
      for (const r of results) if (r.status === 'rejected') assert.match(message(r.reason), /overlaps|already exists/);
    }
    await until(() => s.managers.every((m) => m.listNetworks().length === s.managers[0]!.listNetworks().length), 2000, 'views agree');
    const subnets = s.managers[1]!.listNetworks().flatMap((n) => n.Subnets.map((x) => x.Subnet));
    assert.is(new Set(subnets).size, subnets.length);
  } finally {
    await s.close();
  }
});

test('1,000 attaches and block grants spread over three managers: no block granted twice; attach writes one key', async () => {
  const s = await swarm(3);
  try {
    const { Id } = await s.managers[0]!.createNetwork({ Name: 'big', Attachable: true, IPAM: { Config: [{ Subnet: '10.64.0.0/16' }] } });
    await until(() => s.managers.every((m) => m.findNetwork(Id) !== undefined), 2000, 'network everywhere');
    const nodes = s.managers.map((m) => m.nodeId);
    const before = s.managers.map((m) => m.writes.counts.txns);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      const m = s.managers[i % 3]!;
      const node = nodes[(i * 7) % 3]!;
      work.push(m.attach({ Network: 'big', Sandbox: `sb${i}`, Node: node }));
      if (i % 16 === 0) work.push(m.requestBlock(node, { Network: 'big' }));
    }
    const res = await Promise.allSettled(work);
    const failed = res.filter((r) => r.status === 'rejected');
    assert.is(failed.length, 0, failed.map((f) => message((f as PromiseRejectedResult).reason)).slice(0, 3).join('; '));
    const granted = res.filter((r, i) => r.status === 'fulfilled' && (r.value as { Block?: string }).Block !== undefined).map((r) => (r as PromiseFulfilledResult<{ Block: string }>).value.Block);
    assert.is(granted.length, 63);
    assert.is(new Set(granted).size, granted.length, 'a block was granted twice');
    const txns = s.managers.reduce((a, m, i) => a + m.writes.counts.txns - before[i]!, 0);
    assert.ok(txns < 1000 + 63 * 4, `${txns} transactions for 1,000 attaches and 63 grants`);
    await until(() => s.managers.every((m) => Object.values(m.inspectNetwork('big').Attachments).flat().length === 1000), 3000, 'every manager sees 1,000 attachments');
    // What each manager's allocator says matches the store: every granted block owned once.
    const owned = s.managers[2]!.blocksOf(nodes[0]!).concat(s.managers[2]!.blocksOf(nodes[1]!), s.managers[2]!.blocksOf(nodes[2]!)).flatMap((x) => x.blocks);
    assert.equal(owned.sort(), [...granted].sort());
  } finally {
    await s.close();
  }
});

test('attach and remove racing on one network: never both; a network with endpoints is not removed', async () => {
  const s = await swarm(2);
  try {
    for (let round = 0; round < 20; round++) {
      const { Id } = await s.managers[0]!.createNetwork({ Name: `r${round}`, Attachable: true });
      await until(() => s.managers[1]!.findNetwork(Id) !== undefined, 2000, 'network on m2');
      const [att, rm] = await Promise.allSettled([s.managers[1]!.attach({ Network: Id, Sandbox: 'x', Node: s.managers[1]!.nodeId }), s.managers[0]!.removeNetwork(Id)]);
      assert.ok(!(att.status === 'fulfilled' && rm.status === 'fulfilled'), `round ${round}: both the attach and the remove succeeded`);
      if (att.status === 'fulfilled') {
        assert.match(message((rm as PromiseRejectedResult).reason), /active endpoints|being removed/);
        await s.managers[1]!.detach({ Network: Id, Sandbox: 'x', Node: s.managers[1]!.nodeId });
        await s.managers[0]!.removeNetwork(Id);
      }
      assert.is((await s.store.range(K.attachNet(Id))).kvs.length, 0);
    }
  } finally {
    await s.close();
  }
});

test('the leader dies without a word: another manager takes over within the lease TTL and rotates keys', async () => {
  const s = await swarm(3);
  try {
    await until(() => s.managers.filter((m) => m.isLeader).length === 1, 2000, 'one leader');
    const i = s.managers.findIndex((m) => m.isLeader);
    const dead = s.managers[i]!;
    s.handles[i]!.cut();
    const t0 = Date.now();
    const others = s.managers.filter((m) => m !== dead);
    await until(() => others.some((m) => m.isLeader), 5000, 'a new leader');
    const took = Date.now() - t0;
    assert.ok(took < 5000, `took ${took} ms`);
    const leader = others.find((m) => m.isLeader)!;
    await until(() => others.every((m) => m.leaderId === leader.nodeId), 2000, 'everyone agrees on the leader');
    const view = others.find((m) => m !== leader)!.listNodes();
    const deadView = view.find((n) => n.ID === dead.nodeId)!;
    assert.is(deadView.ManagerStatus?.Reachability, 'unreachable');
    assert.is(view.find((n) => n.ID === leader.nodeId)!.ManagerStatus?.Leader, true);
    // Writes go on without the dead manager.
    await others[0]!.createNetwork({ Name: 'after' });
    const r = await leader.rotateKeys();
    assert.is(r.Rotation, 1);
  } finally {
    await s.close();
  }
});

test('init refuses a store that holds a swarm or foreign keys; a newer format is refused without overwriting', async () => {
  const store = memoryClusterStore();
  try {
    await store.put('weft/something', jsonValue({ not: 'ours' }));
    const e1 = await Manager.init(opts(store), { host: '127.0.0.1', port: 0, nodeName: 'm', platform: plat }).catch((e) => e);
    assert.match(message(e1), /holds keys under weft\/ that this swarm did not write \(e\.g\. weft\/something\)/);
    await store.delete('weft/something');
    const local = memoryStore();
    const m = await Manager.init(opts(store, local), { host: '127.0.0.1', port: 0, nodeName: 'm', platform: plat });
    const cid = m.clusterId;
    await m.close();
    const e2 = await Manager.init(opts(store), { host: '127.0.0.1', port: 0, nodeName: 'x', platform: plat }).catch((e) => e);
    assert.match(message(e2), `already holds swarm ${cid}`);
    await store.put(K.format, jsonValue({ Format: 99, ClusterID: cid }));
    const before = (await store.range('weft/')).kvs.map((kv) => `${kv.key}@${kv.modRevision}`);
    const e3 = await Manager.open(opts(store, local)).catch((e) => e);
    assert.match(message(e3), /written by a newer Weft \(state format 99; this agent reads 2\)/);
    assert.equal((await store.range('weft/')).kvs.map((kv) => `${kv.key}@${kv.modRevision}`), before, 'nothing overwritten');
  } finally {
    await store.close();
  }
});

test('upgrade: a single-record cluster state of the earlier format is converted, networks, attachments and blocks included', async () => {
  const store = memoryClusterStore();
  const local = memoryStore();
  try {
    const kp = sodium.crypto_sign_keypair();
    const key = (e: number) => ({ Epoch: e, Key: toB64(new Uint8Array(32).fill(e)) });
    const ring = { Rotation: 4, Keys: [key(5), key(6), key(7)], Gossip: [key(5), key(6), key(7)], IntervalMs: 3600_000, NextRotationAt: Date.now() + 3600_000, LastRotatedAt: Date.now() };
    const node = S.newNodeRecord('mgr1', { Name: 'old', Addr: '127.0.0.1', PublicKey: toB64(kp.publicKey), Platform: plat, ListenAddr: '127.0.0.1:0' }, 'manager', 0);
    const worker = S.newNodeRecord('wrk1', { Name: 'w', Addr: '127.0.0.2', PublicKey: toB64(kp.publicKey), Platform: plat }, 'worker', 0);
    const net = { ...S.createNetwork({ Networks: {}, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 }, { Name: 'legacy', IPAM: { Config: [{ Subnet: '10.77.0.0/24' }] } }, 'net1', 0, new (await import('./vni.ts')).VniBitmap()), Attachments: { wrk1: ['a', 'b'] } };
    const v1: ClusterStateV1 = {
      Version: 1, ClusterID: 'oldcluster', CreatedAt: new Date(0).toISOString(), ManagerKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) },
      NodeID: 'mgr1', ListenAddr: '127.0.0.1:0', BindAddr: '127.0.0.1:0', Tokens: { worker: 'w'.repeat(26), manager: 'm'.repeat(26) },
      Nodes: { mgr1: { ...node, Leader: true }, wrk1: worker }, Networks: { net1: net }, Ring: ring, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24, Seq: 9,
    };
    await putJson(local, 'cluster', v1);
    const alloc = ipamBlockAllocator();
    alloc.addPool('net1/0', '10.77.0.0/24');
    alloc.grant('net1/0', 'wrk1');
    await local.scope('blocks').put('net1/0', alloc.save('net1/0')!);
    await convertV1(v1, local, store, 'embedded:');
    assert.is(await local.get('cluster'), undefined);
    assert.ok(await local.get('cluster.v1'), 'the old record is kept as a backup');
    await putJson(local, 'local', { Version: 2, ClusterID: 'oldcluster', NodeID: 'mgr1', NodeKey: v1.ManagerKey, BindAddr: '127.0.0.1:0', ListenAddr: '127.0.0.1:0', Store: { URL: 'embedded:' } });
    const m = (await Manager.open(opts(store, local, { shared: false })))!;
    try {
      assert.is(m.clusterId, 'oldcluster');
      assert.equal(m.inspectNetwork('legacy').Attachments, { wrk1: ['a', 'b'] });
      assert.equal(m.blocksOf('wrk1').flatMap((b) => b.blocks), ['10.77.0.0/28']);
      assert.is(m.ringInfo().Rotation, 4);
      assert.equal(m.listNodes().map((n) => n.Description.Hostname), ['old', 'w']);
      assert.is((await m.requestBlock('mgr1', { Network: 'legacy' })).Block, '10.77.0.16/28');
      // A second conversion of the same state is a no-op, a different cluster is refused.
      await convertV1(v1, local, store, 'embedded:');
      const e = await convertV1({ ...v1, ClusterID: 'other' }, local, store, 'embedded:').catch((x) => x);
      assert.match(message(e), 'already holds cluster oldcluster');
    } finally {
      await m.close();
    }
  } finally {
    await store.close();
  }
});

test.run();
