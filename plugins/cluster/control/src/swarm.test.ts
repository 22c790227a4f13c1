import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { formatToken, keyDigest, parseToken } from './token.ts';
import { sodium } from './util.ts';
import { cleanup, startAgent, until, type Agent } from './_harness.ts';

let stores = 0;
async function cluster(workers = 2, managers = 1) {
  const m = await startAgent('m1');
  // Several managers need a shared store: an in-process one here (etcd in the agent e2e tests).
  const store = managers > 0 ? { ClusterStore: { URL: `memory://swarm-test-${process.pid}-${++stores}` } } : {};
  const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0', ...store });
  const wt = (await m.call('Swarm.JoinToken', { Role: 'worker' })).Token as string;
  const mt = (await m.call('Swarm.JoinToken', { Role: 'manager' })).Token as string;
  const others: Agent[] = [];
  for (let i = 0; i < workers; i++) {
    const a = await startAgent(`w${i + 1}`);
    others.push(a);
    await a.call('Swarm.Join', { JoinToken: wt, RemoteAddrs: [init.ListenAddr], AdvertiseAddr: `127.0.0.${10 + i}` });
  }
  for (let i = 0; i < managers; i++) {
    const a = await startAgent(`m${i + 2}`);
    others.push(a);
    await a.call('Swarm.Join', { JoinToken: mt, RemoteAddrs: [init.ListenAddr], AdvertiseAddr: `127.0.0.${20 + i}`, ListenAddr: '127.0.0.1:0' });
  }
  return { m, addr: init.ListenAddr as string, wt, mt, others };
}

test('init, then two workers and a manager join; all are listed with role, status and platform', async () => {
  const c = await cluster(2, 1).catch((e) => { throw e; });
  try {
    const [w1, , m2] = c.others as [Agent, Agent, Agent];
    await until(async () => (await c.m.call('Node.List')).every((n: any) => n.Status.State === 'ready'), 3000, 'all nodes ready');
    const nodes = await c.m.call('Node.List');
    assert.equal(nodes.map((n: any) => n.Description.Hostname), ['m1', 'm2', 'w1', 'w2']);
    const byName = Object.fromEntries(nodes.map((n: any) => [n.Description.Hostname, n]));
    assert.is(byName.m1.Spec.Role, 'manager');
    assert.is(byName.m1.ManagerStatus.Leader, true);
    assert.is(byName.m2.Spec.Role, 'manager');
    assert.is(byName.m2.ManagerStatus.Leader, false);
    assert.is(byName.w1.Spec.Role, 'worker');
    assert.is(byName.w1.ManagerStatus, undefined);
    assert.is(byName.w1.Spec.Availability, 'active');
    assert.equal(byName.w1.Description.Platform.OS, 'linux');
    assert.is(byName.w1.Status.Addr, '127.0.0.10');
    // The second manager answers reads and writes itself, from the shared store.
    assert.ok(m2.svc.managerInstance !== undefined, 'm2 runs a manager');
    const fromM2 = await m2.call('Node.List');
    assert.is(fromM2.length, 4);
    assert.is(fromM2.find((n: any) => n.Description.Hostname === 'm1').ManagerStatus.Leader, true);
    assert.is(fromM2.find((n: any) => n.Description.Hostname === 'm2').ManagerStatus.Reachability, 'reachable');
    const { Id } = await m2.call('Network.Create', { Name: 'from-m2', IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] } });
    await until(() => w1.svc.networks().some((n) => n.Id === Id), 3000, 'network reaches the worker');
    const info = await w1.call('Swarm.Inspect');
    assert.is(info.Role, 'worker');
    assert.is(info.ManagerReachable, true);
    assert.is(info.KeyRing.Epochs.length, 3);
    // The joiner got the gossip keys (three, primary first) with the snapshot.
    const boot = w1.svc.gossipBootstrap()!;
    assert.is(boot.keys.length, 3);
    assert.equal(boot.keys[0], c.m.svc.gossipBootstrap()!.keys[0]);
    // A worker that leaves shows as "left" until it is removed.
    const w2 = c.others[1]!;
    await w2.call('Swarm.Leave');
    assert.is(w2.svc.role, undefined);
    await until(async () => (await c.m.call('Node.Inspect', { Node: 'w2' })).Status.State === 'left', 3000, 'w2 left');
    await c.m.call('Node.Remove', { Node: 'w2' });
    assert.is((await c.m.call('Node.List')).length, 3);
    // Tokens pin the manager key.
    assert.is(parseToken(c.wt).digest, keyDigest(c.m.svc.managerInstance!.publicKey));
    assert.is.not(parseToken(c.wt).secret, parseToken(c.mt).secret);
  } finally {
    await cleanup([c.m, ...c.others]);
  }
});

test('node promote / demote: a worker becomes a manager and back, without a restart; the last manager stays', async () => {
  const c = await cluster(1, 1);
  try {
    const [w1, m2] = c.others as [Agent, Agent];
    await c.m.call('Node.Promote', { Node: 'w1' });
    await until(() => w1.svc.managerInstance !== undefined, 5000, 'w1 runs a manager');
    assert.is(w1.svc.role, 'manager');
    const fromW1 = await w1.call('Node.List');
    assert.equal(fromW1.filter((n: any) => n.Spec.Role === 'manager').map((n: any) => n.Description.Hostname).sort(), ['m1', 'm2', 'w1']);
    await until(async () => (await c.m.call('Node.List')).find((n: any) => n.Description.Hostname === 'w1').ManagerStatus?.Reachability === 'reachable', 5000, 'w1 reachable as a manager');
    // Demote m2 from w1: m2 keeps working as a worker.
    await w1.call('Node.Demote', { Node: 'm2' });
    await until(() => m2.svc.managerInstance === undefined && m2.svc.role === 'worker', 5000, 'm2 is a worker');
    await until(() => m2.svc.nodeInstance?.connected === true, 5000, 'm2 has a session to a manager');
    const e = await m2.fail('Network.Create', { Name: 'nope' });
    assert.match(e.message, /not a swarm manager/);
    const { Id } = await w1.call('Network.Create', { Name: 'after-demote', IPAM: { Config: [{ Subnet: '10.9.9.0/24' }] } });
    await until(() => m2.svc.networks().some((n) => n.Id === Id), 3000, 'the demoted node gets snapshots');
    // Demote down to one manager; the last one cannot go.
    await c.m.call('Node.Demote', { Node: 'w1' });
    await until(() => w1.svc.role === 'worker', 5000, 'w1 is a worker again');
    assert.match((await c.m.fail('Node.Demote', { Node: 'm1' })).message, /last manager/);
  } finally {
    await cleanup([c.m, ...c.others]);
  }
});

test('with the embedded store a second manager is refused, saying to use --cluster-store; a worker joins', async () => {
  const c = await cluster(0, 0);
  const j = await startAgent('j');
  try {
    const e = await j.fail('Swarm.Join', { JoinToken: c.mt, RemoteAddrs: [c.addr] });
    assert.match(e.message, /embedded store/);
    assert.match(e.hint ?? '', /--cluster-store etcd:\/\//);
    assert.is(j.svc.role, undefined, 'nothing half-joined');
    assert.is((await c.m.call('Node.List')).length, 1, 'no node record left behind');
    await j.call('Swarm.Join', { JoinToken: c.wt, RemoteAddrs: [c.addr] });
    assert.is(j.svc.role, 'worker');
    assert.match((await c.m.fail('Node.Promote', { Node: 'j' })).message, /embedded store/);
  } finally {
    await cleanup([c.m, j]);
  }
});

test('a wrong secret is refused naming the secret; a manager whose key does not match the token is refused saying so', async () => {
  const c = await cluster(0, 0);
  const j = await startAgent('j');
  try {
    const { digest } = parseToken(c.wt);
    const wrong = `WFTTKN-1-${digest}-${'a'.repeat(26)}`;
    const e1 = await j.fail('Swarm.Join', { JoinToken: wrong, RemoteAddrs: [c.addr] });
    assert.match(e1.message, /join token secret is wrong/);
    assert.is(e1.category, 'Forbidden');
    const otherKey = sodium.crypto_sign_keypair().publicKey;
    const pinnedElsewhere = formatToken(otherKey, parseToken(c.wt).secret);
    const e2 = await j.fail('Swarm.Join', { JoinToken: pinnedElsewhere, RemoteAddrs: [c.addr] });
    assert.match(e2.message, /presented a key whose digest is .* but the join token pins/);
    assert.is(e2.code, 'WEFT_CONTROL_MANAGER_KEY_MISMATCH');
    const e3 = await j.fail('Swarm.Join', { JoinToken: 'SWMTKN-1-abc-def', RemoteAddrs: [c.addr] });
    assert.match(e3.message, /Token is malformed: .*expected WFTTKN-1-/);
    assert.is(c.m.svc.managerInstance!.stats.refusedJoins, 1);
    const closed = await new Promise<number>((r) => { const srv = net.createServer(); srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => r(p)); }); });
    const e4 = await j.fail('Swarm.Join', { JoinToken: c.wt, RemoteAddrs: [`127.0.0.1:${closed}`] });
    assert.match(e4.message, `Cannot join: no manager reachable at 127.0.0.1:${closed}`);
    // Nothing was registered by the failed attempts.
    assert.is((await c.m.call('Node.List')).length, 1);
  } finally {
    await cleanup([c.m, j]);
  }
});

test('join-token --rotate: the old token is refused for new joins, joined nodes keep working', async () => {
  const c = await cluster(1, 0);
  const late = await startAgent('late');
  const [w1] = c.others as [Agent];
  try {
    const { Token: rotated } = await c.m.call('Swarm.JoinToken', { Role: 'worker', Rotate: true });
    assert.is.not(rotated, c.wt);
    assert.is(parseToken(rotated).digest, parseToken(c.wt).digest);
    const e = await late.fail('Swarm.Join', { JoinToken: c.wt, RemoteAddrs: [c.addr] });
    assert.match(e.message, /secret is wrong/);
    // The manager token is untouched.
    assert.is((await c.m.call('Swarm.JoinToken', { Role: 'manager' })).Token, c.mt);
    // The joined worker reconnects with its node identity, not the token.
    w1.svc.nodeInstance!['client']?.conn.destroy();
    await w1.call('Network.Attach', { Network: (await c.m.call('Network.Create', { Name: 'n1' })).Id, Sandbox: 'sb1' });
    const n = await c.m.call('Network.Inspect', { Network: 'n1' });
    assert.equal(n.Attachments[w1.svc.nodeId!], ['sb1']);
    await late.call('Swarm.Join', { JoinToken: rotated, RemoteAddrs: [c.addr] });
    assert.is(late.svc.role, 'worker');
  } finally {
    await cleanup([c.m, late, ...c.others]);
  }
});

test('workers cannot change cluster state; conflicts are refused naming the other network', async () => {
  const c = await cluster(1, 0);
  const [w1] = c.others as [Agent];
  try {
    const e = await w1.fail('Network.Create', { Name: 'x' });
    assert.match(e.message, /^This node is not a swarm manager\. Worker nodes can't be used to view or modify cluster state/);
    assert.match((await w1.fail('Node.List')).message, /not a swarm manager/);
    const a = await c.m.call('Network.Create', { Name: 'a', IPAM: { Config: [{ Subnet: '10.1.2.0/24' }] } });
    const ov = await c.m.fail('Network.Create', { Name: 'b', IPAM: { Config: [{ Subnet: '10.1.0.0/16' }] } });
    assert.is(ov.category, 'Conflict');
    assert.match(ov.message, `subnet 10.1.0.0/16 overlaps subnet 10.1.2.0/24 of network "a" (${a.Id})`);
    assert.match((await c.m.fail('Network.Create', { Name: 'a' })).message, 'network with name a already exists');
    await c.m.call('Network.Create', { Name: 'p', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000' }, IPAM: { Config: [{ Subnet: '10.3.0.0/24' }] } });
    const vc = await c.m.fail('Network.Create', { Name: 'q', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000' }, IPAM: { Config: [{ Subnet: '10.4.0.0/24' }] } });
    assert.match(vc.message, /VXLAN ID 5000 is already in use by network "p"/);
    const auto = await c.m.call('Network.Inspect', { Network: 'a' });
    assert.equal(auto.VNIs, [4096]);
    assert.is(auto.Options['com.docker.network.driver.overlay.vxlanid_list'], '4096');
    const two = await c.m.call('Network.Create', { Name: 'two', IPAM: { Config: [{ Subnet: '10.5.0.0/24' }, { Subnet: '10.6.0.0/24' }] } });
    assert.equal((await c.m.call('Network.Inspect', { Network: two.Id })).VNIs, [4097, 4098]);
    const enc = await c.m.call('Network.Create', { Name: 'sec', Options: { encrypted: '' } });
    const secNet = await c.m.call('Network.Inspect', { Network: enc.Id });
    assert.is(secNet.Encrypted, true);
    assert.is(secNet.Subnets[0].Subnet, '10.0.0.0/24');
    assert.is(secNet.Subnets[0].Gateway, '10.0.0.1');
    // Definitions reach the worker; it can read them without asking.
    await until(() => w1.svc.networks().length === 4, 3000, 'worker sees 4 networks');
    assert.is((await w1.call('Network.Inspect', { Network: 'sec' })).Encrypted, true);
    await c.m.call('Network.Remove', { Network: 'p' });
    await until(() => w1.svc.networks().length === 3, 3000, 'removal reaches the worker');
    // The freed VNI can be pinned again.
    await c.m.call('Network.Create', { Name: 'q', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000' }, IPAM: { Config: [{ Subnet: '10.4.0.0/24' }] } });
    // A network the worker has not heard of yet (its broadcast held back here) is looked up at the
    // manager; a name nobody knows is still NotFound.
    const mgr = (c.m.svc as unknown as { manager: { broadcast: () => void } }).manager;
    const broadcast = mgr.broadcast;
    mgr.broadcast = () => {};
    try {
      const fresh = await c.m.call('Network.Create', { Name: 'fresh', IPAM: { Config: [{ Subnet: '10.7.0.0/24' }] } });
      assert.not.ok(w1.svc.networks().some((n) => n.Name === 'fresh'), 'the worker has not heard of it');
      assert.is((await w1.call('Network.Inspect', { Network: 'fresh' })).Id, fresh.Id);
      const nf = await w1.fail('Network.Inspect', { Network: 'nosuch' });
      assert.is(nf.category, 'NotFound');
    } finally {
      mgr.broadcast = broadcast;
    }
  } finally {
    await cleanup([c.m, ...c.others]);
  }
});

test('no manager reachable: a clear error, and existing networks keep working', async () => {
  const c = await cluster(1, 0);
  const [w1] = c.others as [Agent];
  try {
    await c.m.call('Network.Create', { Name: 'keep', Attachable: true });
    await until(() => w1.svc.networks().length === 1, 3000, 'network reaches the worker');
    await c.m.stop();
    await until(() => !w1.svc.nodeInstance!.connected, 3000, 'worker notices');
    const e = await w1.fail('Network.Attach', { Network: 'keep', Sandbox: 's1' });
    assert.is(e.category, 'Unavailable');
    assert.match(e.message, `No manager reachable at ${c.addr}`);
    assert.match(e.message, 'existing networks keep working');
    assert.is((await w1.call('Network.List')).length, 1);
    assert.is((await w1.call('Network.Inspect', { Network: 'keep' })).Name, 'keep');
    assert.is((await w1.call('Swarm.Inspect')).ManagerReachable, false);
    assert.match((await w1.fail('Swarm.Leave')).message, 'No manager reachable');
    await w1.call('Swarm.Leave', { Force: true });
    assert.is(w1.svc.role, undefined);
  } finally {
    await cleanup([c.m, ...c.others]);
  }
});

test('garbage and partial input on the control port never crash the manager', async () => {
  const c = await cluster(1, 0);
  const [w1] = c.others as [Agent];
  const [host, port] = [c.addr.split(':')[0]!, Number(c.addr.split(':')[1])];
  const send = (bytes: Uint8Array, hold = 50) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.write(bytes);
        setTimeout(() => { s.destroy(); resolve(); }, hold);
      });
      s.on('error', () => resolve());
    });
  try {
    await send(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await send(sodium.randombytes_buf(4096));
    await send(new TextEncoder().encode('WFT1'));            // partial hello, then hang up
    const hello = new Uint8Array(69); hello.set(new TextEncoder().encode('WFT1')); hello[4] = 0;
    await send(new Uint8Array([...hello, ...sodium.randombytes_buf(300)]), 150); // valid hello, garbage frames
    hello[4] = 9;
    await send(hello);                                        // unknown auth mode
    await until(() => c.m.svc.managerInstance!.stats.badConnections >= 4, 3000, 'bad connections counted');
    // Still serving: a node call and a new join work.
    assert.is((await c.m.call('Node.List')).length, 2);
    const n = await c.m.call('Network.Create', { Name: 'after-garbage' });
    await w1.call('Network.Attach', { Network: n.Id, Sandbox: 'x' });
  } finally {
    await cleanup([c.m, ...c.others]);
  }
});

test('node status comes from the gossip hook when one is given; heartbeats otherwise', async () => {
  const m = await startAgent('m1', { statusHook: (n) => (n.Name === 'w1' ? 'suspect' : undefined) });
  const ws: Agent[] = [];
  try {
    const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0' });
    const { Token } = await m.call('Swarm.JoinToken', { Role: 'worker' });
    for (const name of ['w1', 'w2']) {
      const a = await startAgent(name);
      ws.push(a);
      await a.call('Swarm.Join', { JoinToken: Token, RemoteAddrs: [init.ListenAddr] });
    }
    assert.is((await m.call('Node.Inspect', { Node: 'w1' })).Status.State, 'suspect');
    assert.is((await m.call('Node.Inspect', { Node: 'w2' })).Status.State, 'ready');
    await ws[1]!.stop(); // no leave: the session drops and heartbeats stop
    await until(async () => (await m.call('Node.Inspect', { Node: 'w2' })).Status.State === 'down', 3000, 'w2 down');
    await m.call('Node.Remove', { Node: 'w2' }); // down nodes need no --force
  } finally {
    await cleanup([m, ...ws]);
  }
});

test.run();
