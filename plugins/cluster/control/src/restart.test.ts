import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { cleanup, sleep, startAgent, tempDir, until, type Agent } from './_harness.ts';
import { sodium, toB64 } from './util.ts';

test('manager restart over the same state dir: nodes, networks, VNIs, tokens and key ring survive; rotation neither early nor twice', async () => {
  let m: Agent | undefined = await startAgent('m1', { sync: true });
  const dir = m.dir;
  let w: Agent | undefined;
  try {
    const INTERVAL = 1500;
    const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0', KeyRotationInterval: `${INTERVAL}ms` });
    const wt = (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token;
    w = await startAgent('w1');
    await w.call('Swarm.Join', { JoinToken: wt, RemoteAddrs: [init.ListenAddr] });
    const net = await m.call('Network.Create', { Name: 'web', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '7000' }, IPAM: { Config: [{ Subnet: '10.20.0.0/24' }] } });
    const ring0 = m.svc.managerInstance!.view.ring!.value;
    assert.is(ring0.Rotation, 0);

    // Restart well before the rotation is due.
    await m.stop();
    m = await startAgent('m1', { dir, sync: true });
    const mgr = m.svc.managerInstance!;
    assert.ok(mgr !== undefined, 'the manager resumes from the state dir');
    assert.is(mgr.address, init.ListenAddr, 'same address after restart');
    assert.is(mgr.view.ring!.value.Rotation, 0, 'no rotation on restart');
    assert.is(mgr.view.ring!.value.NextRotationAt, ring0.NextRotationAt, 'the schedule is the persisted one');
    assert.equal(mgr.view.ring!.value.Keys, ring0.Keys);
    assert.equal((await m.call('Node.List')).map((n: any) => n.Description.Hostname), ['m1', 'w1']);
    const web = await m.call('Network.Inspect', { Network: 'web' });
    assert.is(web.Id, net.Id);
    assert.equal(web.VNIs, [7000]);
    assert.match((await m.fail('Network.Create', { Name: 'x', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '7000' } })).message, 'VXLAN ID 7000 is already in use by network "web"');
    assert.is((await m.call('Swarm.JoinToken', { Role: 'worker' })).Token, wt);
    // The worker comes back with its node identity.
    await w.call('Network.Attach', { Network: 'web', Sandbox: 's1' });
    await until(async () => (await m!.call('Node.Inspect', { Node: 'w1' })).Status.State === 'ready', 3000, 'worker ready again');

    // The rotation fires once, when due, and the worker gets the new ring.
    await until(() => mgr.view.ring!.value.Rotation === 1, INTERVAL + 2000, 'the scheduled rotation');
    assert.ok(Date.now() >= ring0.NextRotationAt, 'not early');
    assert.equal(mgr.rotations, [1]);
    const ring1 = mgr.view.ring!.value;
    assert.equal(ring1.Keys.slice(0, 2), ring0.Keys.slice(1), 'oldest key dropped, one appended');
    assert.is(ring1.Keys[2]!.Epoch, 4);
    await until(() => w!.svc.keyRing()!.Rotation === 1, 3000, 'worker receives the rotated ring');
    assert.is(w.svc.keyRing()!.Keys[w.svc.keyRing()!.Primary]!.Epoch, 3, 'primary is the middle key');

    // Restart right after the rotation: nothing is due, nothing rotates again.
    await m.stop();
    m = await startAgent('m1', { dir, sync: true });
    const mgr2 = m.svc.managerInstance!;
    assert.is(mgr2.view.ring!.value.Rotation, 1);
    assert.equal(mgr2.view.ring!.value.Keys, ring1.Keys);
    await sleep(300);
    assert.equal(mgr2.rotations, [], 'no second rotation after restart');
    const man = await m.call('Swarm.RotateKeys');
    assert.is(man.Rotation, 2);
    assert.equal(man.Epochs, [3, 4, 5]);
  } finally {
    await cleanup([m, w]);
  }
});

test('a rotation that came due while the manager was down happens exactly once on start', async () => {
  let m: Agent | undefined = await startAgent('m1', { sync: true });
  const dir = m.dir;
  try {
    await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0', KeyRotationInterval: 300 });
    await m.stop();
    await sleep(450);
    m = await startAgent('m1', { dir, sync: true });
    await until(() => m!.svc.managerInstance!.view.ring!.value.Rotation === 1, 2000, 'catch-up rotation');
    const next = m.svc.managerInstance!.view.ring!.value.NextRotationAt;
    assert.ok(next > Date.now(), 'next rotation is scheduled in the future, not replayed');
    await m.stop();
    m = await startAgent('m1', { dir, sync: true });
    assert.is(m.svc.managerInstance!.view.ring!.value.Rotation, 1);
    assert.equal(m.svc.managerInstance!.rotations, []);
  } finally {
    await cleanup([m]);
  }
});

test('node rm reclaims the node\'s IPAM blocks and attachments; the removed node is refused', async () => {
  const m = await startAgent('m1');
  let w: Agent | undefined;
  try {
    const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0' });
    w = await startAgent('w1');
    await w.call('Swarm.Join', { JoinToken: (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token, RemoteAddrs: [init.ListenAddr] });
    await m.call('Network.Create', { Name: 'n', Attachable: true, IPAM: { Config: [{ Subnet: '10.30.0.0/24' }] } });
    const b1 = await w.call('Blocks.Request', { Network: 'n' });
    const b2 = await w.call('Blocks.Request', { Network: 'n' });
    assert.equal([b1.Block, b2.Block], ['10.30.0.0/28', '10.30.0.16/28']);
    await w.call('Blocks.Release', { Network: 'n', Block: '10.30.0.0/28' });
    const mine = await m.call('Blocks.Request', { Network: 'n' });
    assert.is(mine.Block, '10.30.0.0/28', 'released block is granted again');
    await w.call('Network.Attach', { Network: 'n', Sandbox: 'web.1' });
    const wid = w.svc.nodeId!;
    assert.equal(m.svc.managerInstance!.blocksOf(wid).flatMap((x) => x.blocks), ['10.30.0.16/28']);
    // Attached sandboxes keep the network in use.
    assert.match((await m.fail('Network.Remove', { Network: 'n' })).message, /has active endpoints on w1 \(web\.1\)/);
    // Still up: needs --force.
    assert.match((await m.fail('Node.Remove', { Node: 'w1' })).message, /is not down and can't be removed/);
    await m.call('Node.Remove', { Node: 'w1', Force: true });
    assert.equal(m.svc.managerInstance!.blocksOf(wid), []);
    assert.equal((await m.call('Network.Inspect', { Network: 'n' })).Attachments, {});
    assert.is((await m.call('Blocks.Request', { Network: 'n' })).Block, '10.30.0.16/28', 'reclaimed block is free again');
    const e = await w.fail('Network.Attach', { Network: 'n', Sandbox: 'again' });
    assert.match(e.message, /is not a member of this swarm \(it was removed/);
    await m.call('Network.Remove', { Network: 'n' });
    assert.match((await m.fail('Node.Remove', { Node: 'self' })).message, 'is this manager and cannot remove itself');
  } finally {
    await cleanup([m, w]);
  }
});

test('manager down: attachment changes on networks a node already uses are recorded, survive a node restart, and reach the manager when it is back', async () => {
  let m: Agent | undefined = await startAgent('m1', { sync: true });
  const mdir = m.dir;
  let w: Agent | undefined;
  try {
    const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0' });
    w = await startAgent('w1', { sync: true });
    const wdir = w.dir;
    await w.call('Swarm.Join', { JoinToken: (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token, RemoteAddrs: [init.ListenAddr] });
    await m.call('Network.Create', { Name: 'web', Attachable: true, IPAM: { Config: [{ Subnet: '10.31.0.0/24' }] } });
    await m.call('Network.Create', { Name: 'other', Attachable: true, IPAM: { Config: [{ Subnet: '10.32.0.0/24' }] } });
    await w.call('Network.Attach', { Network: 'web', Sandbox: 's1' });
    const wid = w.svc.nodeId!;
    await m.stop();
    await until(() => !w!.svc.nodeInstance!.connected, 3000, 'worker notices');
    const rec = await w.call('Network.Attach', { Network: 'web', Sandbox: 's2' });
    assert.is(rec.Name, 'web', 'the attach answers with the network, from the node\'s copy');
    // A first sandbox on a network still needs the manager: it could remove the network meanwhile.
    const first = await w.fail('Network.Attach', { Network: 'other', Sandbox: 't1' });
    assert.is(first.category, 'Unavailable');
    assert.match(first.message, `No manager reachable at ${init.ListenAddr}`);
    assert.match(first.message, 'attaching to network "other" (this node has no other sandbox on it yet) needs a manager');
    await w.call('Network.Detach', { Network: 'web', Sandbox: 's1' });
    // Once s1 is gone, s2 (itself only recorded here) still counts as this node's sandbox on web.
    await w.call('Network.Attach', { Network: 'web', Sandbox: 's3' });
    await w.call('Network.Detach', { Network: 'web', Sandbox: 's3' });
    assert.equal(w.svc.nodeInstance!.pending.map((p) => `${p.Op} ${p.Sandbox}`), ['Network.Attach s2', 'Network.Detach s1', 'Network.Detach s3']);
    // The record is durable: the node restarts before any manager is back.
    await w.stop();
    w = await startAgent('w1', { dir: wdir, sync: true });
    assert.is(w.svc.nodeInstance!.pending.length, 3);
    m = await startAgent('m1', { dir: mdir, sync: true });
    await until(() => w!.svc.nodeInstance!.pending.length === 0, 8000, 'pending changes sent');
    assert.equal((await m.call('Network.Inspect', { Network: 'web' })).Attachments, { [wid]: ['s2'] });
    assert.equal(w.svc.nodeInstance!.state.Local, { [(await m.call('Network.Inspect', { Network: 'web' })).Id]: ['s2'] }, 'the node\'s own record agrees');
  } finally {
    await cleanup([m, w]);
  }
});

test('a control session that goes silent (a cut link sends no RST) is dropped by the heartbeat: calls do not hang, and the node reconnects', async () => {
  const m = await startAgent('m1');
  let w: Agent | undefined;
  // A TCP relay between the node and the manager that can swallow everything without closing.
  const pairs: net.Socket[][] = [];
  let silent = false;
  const relay = net.createServer((down) => {
    const up = net.connect(Number(m.svc.managerInstance!.address.split(':')[1]), '127.0.0.1');
    pairs.push([down, up]);
    down.on('data', (b) => void (silent || up.write(b)));
    up.on('data', (b) => void (silent || down.write(b)));
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  try {
    await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0' });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const via = `127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
    w = await startAgent('w1');
    await w.call('Swarm.Join', { JoinToken: (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token, RemoteAddrs: [via] });
    await m.call('Network.Create', { Name: 'web', Attachable: true, IPAM: { Config: [{ Subnet: '10.33.0.0/24' }] } });
    await w.call('Network.Attach', { Network: 'web', Sandbox: 's1' });
    silent = true;
    const t0 = Date.now();
    await w.call('Network.Attach', { Network: 'web', Sandbox: 's2' });
    const ms = Date.now() - t0;
    assert.ok(ms < 6000, `the call ended after ${ms} ms (the RPC timeout alone would be 10 s)`);
    // The node reconnects (directly: it also knows the manager's own address) and sends what it recorded.
    await until(async () => ((await m.call('Network.Inspect', { Network: 'web' })).Attachments[w!.svc.nodeId!] ?? []).includes('s2'), 8000, 's2 reaches the manager');
  } finally {
    relay.close();
    for (const p of pairs) for (const x of p) x.destroy();
    await cleanup([m, w]);
  }
});

test('upgrade: an agent whose state dir holds the single-record manager state of an earlier version starts as the same swarm', async () => {
  const dir = await tempDir();
  let m: Agent | undefined;
  let w: Agent | undefined;
  try {
    // Write what an earlier manager left behind, through the same file store an agent uses.
    const { fileStore } = await import('@weft/store');
    const local = fileStore(dir, { unsafeNoSync: true }).scope('control').scope('manager');
    const kp = sodium.crypto_sign_keypair();
    const key = (e: number) => ({ Epoch: e, Key: toB64(new Uint8Array(32).fill(e)) });
    const now = Date.now();
    const node = { ID: 'oldmgr', Name: 'm1', Role: 'manager', PublicKey: toB64(kp.publicKey), Addr: '127.0.0.1', Platform: { OS: 'linux', Architecture: 'x86_64' }, Availability: 'active', CreatedAt: new Date(0).toISOString(), UpdatedAt: new Date(0).toISOString(), Leader: true, Left: false, ListenAddr: '127.0.0.1:0' };
    const net = { Id: 'oldnet', Name: 'kept', Driver: 'overlay', Scope: 'swarm', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' }, Labels: {}, Attachable: true, Internal: false, Encrypted: false, EnableIPv6: false, Subnets: [{ Subnet: '10.90.0.0/24', Gateway: '10.90.0.1' }], VNIs: [4096], Created: new Date(0).toISOString(), Attachments: { oldmgr: ['s1'] } };
    const v1 = {
      Version: 1, ClusterID: 'oldswarm', CreatedAt: new Date(0).toISOString(), ManagerKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) }, NodeID: 'oldmgr',
      ListenAddr: '127.0.0.1:0', BindAddr: '127.0.0.1:0', Tokens: { worker: 'a'.repeat(26), manager: 'b'.repeat(26) }, Nodes: { oldmgr: node }, Networks: { oldnet: net },
      Ring: { Rotation: 2, Keys: [key(3), key(4), key(5)], Gossip: [key(3), key(4), key(5)], IntervalMs: 3_600_000, NextRotationAt: now + 3_600_000, LastRotatedAt: now }, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24, Seq: 7,
    };
    await local.put('cluster', new TextEncoder().encode(JSON.stringify(v1)));
    m = await startAgent('m1', { dir });
    const info = await m.call('Swarm.Inspect');
    assert.is(info.ClusterID, 'oldswarm');
    assert.is(info.KeyRing.Rotation, 2);
    assert.equal((await m.call('Network.Inspect', { Network: 'kept' })).Attachments, { oldmgr: ['s1'] });
    assert.ok(await local.get('cluster.v1'), 'the old record is kept as a backup');
    // The old worker token still joins (same manager key and secrets).
    w = await startAgent('w1');
    const wt = (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token;
    await w.call('Swarm.Join', { JoinToken: wt, RemoteAddrs: [m.svc.managerInstance!.address] });
    await until(() => w!.svc.networks().some((n) => n.Name === 'kept'), 3000, 'the worker sees the converted network');
    // A restart after the conversion opens the converted store, not the backup.
    await m.stop();
    m = await startAgent('m1', { dir });
    assert.is((await m.call('Swarm.Inspect')).ClusterID, 'oldswarm');
  } finally {
    await cleanup([m, w], [dir]);
  }
});

test.run();
