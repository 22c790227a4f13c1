/**
 * End-to-end: real agents, one per host namespace, driven through their local API. Root only.
 * The walkthroughs of the control-plane and agent issues, as tests.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createCluster, eventually, formSwarm, kernelNetworkNamespaces, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `e${process.pid % 1000}`;
const sb = (n: string) => `${tag}-${n}`;

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}
const ipOf = async (h: Host, name: string, net: string) => (await h.client.sandbox(name)).Networks[net]!.IPAddress.split('/')[0]!;
const pings = (c: Cluster, from: string, ip: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', ip]).code === 0;

if (!root) {
  test('end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root to include the multi-host tests'));
} else {
  test('swarm: wrong secret refused, workers cannot create networks, overlapping subnets refused', async () => {
    const c = await createCluster(3, { tag: `${tag}a`, subnet: 31 });
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      const init = await m.client.swarmInit({});
      const bad = `${init.WorkerToken.slice(0, init.WorkerToken.lastIndexOf('-'))}-bbbbbbbbbbbbbbbbbbbbbbbbbb`;
      assert.match(await failure(w1.client.swarmJoin({ JoinToken: bad, RemoteAddrs: [`${m.addr}:2377`] })), /secret is wrong/);
      for (const w of [w1, w2]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready').length === 3, 15_000, 'three ready nodes');
      const nodes = await m.client.nodes();
      assert.equal(nodes.map((n) => n.ManagerStatus).sort(), ['', '', 'Leader']);
      assert.match(await failure(w1.client.networkCreate({ Name: 'x', Driver: 'overlay' })), /not a swarm manager/);
      await m.client.networkCreate({ Name: 'web', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.10.0.0/24' }] } });
      assert.match(await failure(m.client.networkCreate({ Name: 'db', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.10.0.0/16' }] } })), /web/);
      assert.match(await failure(m.client.networkCreate({ Name: 'web', Driver: 'overlay' })), /already exists/);
      const r1 = await m.client.rotateKeys();
      const r2 = await m.client.rotateKeys();
      assert.is(r2.Rotation, r1.Rotation + 1, 'a manual rotation advances the ring once');
      assert.is(r2.Epochs.length, 3, 'three keys: newest, primary, oldest');
      assert.match(await failure(w1.client.rotateKeys()), /manager/);
    } finally {
      await c.destroy();
    }
  });

  test('overlay walkthrough: lazy per-host networks, ping both ways, connect/disconnect', async () => {
    const c = await createCluster(3, { tag: `${tag}b`, subnet: 32 });
    try {
      await formSwarm(c);
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'front', Driver: 'overlay', Attachable: true });
      await m.client.networkCreate({ Name: 'back', Driver: 'overlay', Attachable: true });
      // ingress: made at swarm init and listed on every node, as in Docker; the others only while used.
      const used = async (h: Host) => (await h.client.networks()).map((n) => n.Name).filter((n) => n !== 'ingress');
      assert.ok((await w1.client.networks()).some((n) => n.Name === 'ingress' && n.Ingress), 'a worker lists ingress from its join');
      assert.equal(await used(w1), [], 'a worker shows no swarm network before it uses one');
      await w1.client.sandboxCreate({ Name: sb('a'), Networks: [{ Name: 'front' }] });
      await w2.client.sandboxCreate({ Name: sb('b'), Networks: [{ Name: 'front' }] });
      assert.equal(await used(w1), ['front'], 'it appears with the first local sandbox');
      const ia = await ipOf(w1, sb('a'), 'front');
      const ib = await ipOf(w2, sb('b'), 'front');
      assert.is.not(ia, ib);
      await eventually(() => pings(c, sb('a'), ib), 10_000, `${sb('a')} → ${ib}`);
      await eventually(() => pings(c, sb('b'), ia), 10_000, `${sb('b')} → ${ia}`);
      const inspect = await w2.client.network('front');
      assert.equal(inspect.Endpoints.map((e) => e.Name).sort(), [sb('a'), sb('b')], 'inspect lists the endpoints of every host');
      // move b from front to back
      await w2.client.networkConnect('back', { Container: sb('b') });
      await w2.client.networkDisconnect('front', { Container: sb('b') });
      const links = execFileSync('ip', ['-n', sb('b'), '-o', 'link'], { encoding: 'utf8' });
      assert.match(links, /eth1/);
      assert.not.match(links, /eth0/);
      assert.equal(await used(w2), ['back'], 'front is torn down on w2 with its last sandbox');
      await eventually(async () => !(await w1.client.network('front')).Endpoints.some((e) => e.Name === sb('b')), 10_000, 'w1 forgets b on front');
      assert.ok(!pings(c, sb('a'), ib), 'a can no longer reach b on front');
      await w1.client.sandboxRemove(sb('a'), true);
      await w2.client.sandboxRemove(sb('b'), true);
      assert.equal(await used(w1), []);
    } finally {
      await c.destroy();
    }
  });

  test('restarts: a worker agent killed with -9 comes back and traffic resumes; a manager restart keeps everything', async () => {
    const c = await createCluster(3, { tag: `${tag}c`, subnet: 33 });
    try {
      await formSwarm(c);
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'app', Driver: 'overlay', Attachable: true });
      await w1.client.sandboxCreate({ Name: sb('x'), Networks: [{ Name: 'app' }] });
      await w2.client.sandboxCreate({ Name: sb('y'), Networks: [{ Name: 'app' }] });
      const iy = await ipOf(w2, sb('y'), 'app');
      await eventually(() => pings(c, sb('x'), iy), 10_000, 'initial ping');
      // Interface index, name and addresses: flags such as `tentative` (IPv6 DAD still running)
      // and lifetimes change on their own and say nothing about the agent.
      const ifaceOf = (ns: string): string[] =>
        execFileSync('ip', ['-n', ns, '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => l.split(/\s+/).slice(0, 4).join(' '));
      const before = ifaceOf(sb('y'));
      await c.stopAgent(w2, 'SIGKILL');
      await c.startAgent(w2);
      const t0 = Date.now();
      await eventually(() => pings(c, sb('x'), iy), 10_000, 'ping after the worker agent restarted');
      const resumedMs = Date.now() - t0;
      assert.equal(ifaceOf(sb('y')), before, 'the sandbox kept its interface and address');
      assert.is((await w2.client.sandbox(sb('y'))).Networks.app?.IPAddress, `${iy}/24`);
      console.log(`  traffic resumed ${resumedMs} ms after the worker agent restarted`);
      const nets = (await m.client.networks()).map((n) => `${n.Name}/${n.VNI}`);
      const nodes = (await m.client.nodes()).map((n) => n.ID).sort();
      const ring = await m.client.rotateKeys();
      await c.stopAgent(m);
      await c.startAgent(m);
      const ring2 = await m.client.rotateKeys();
      assert.is(ring2.Rotation, ring.Rotation + 1, 'the key ring survived the restart (no reset, no double rotation)');
      assert.equal(ring2.Epochs.slice(0, 2), ring.Epochs.slice(1), 'same keys, shifted by exactly one rotation');
      assert.equal((await m.client.networks()).map((n) => `${n.Name}/${n.VNI}`), nets, 'networks and VNIs survive a manager restart');
      assert.equal((await m.client.nodes()).map((n) => n.ID).sort(), nodes, 'nodes survive a manager restart');
      assert.ok(pings(c, sb('x'), iy), 'the data path kept working');
    } finally {
      await c.destroy();
    }
  });
}

if (root) {
  test('embedded DNS: sandboxes on two workers ping each other by name and by alias; unknown names are not found', async () => {
    const c = await createCluster(3, { tag: `${tag}n`, subnet: 46 });
    try {
      await formSwarm(c);
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'named', Driver: 'overlay', Attachable: true });
      await w1.client.sandboxCreate({ Name: sb('dn1'), Networks: [{ Name: 'named' }] });
      await w2.client.sandboxCreate({ Name: sb('dn2'), Networks: [{ Name: 'named', Aliases: ['dbalias'] }] });
      // glibc in the sandbox reads /etc/netns/<sb>/resolv.conf (nameserver = the gateway); the switch answers.
      await eventually(() => pings(c, sb('dn1'), sb('dn2')), 15_000, `${sb('dn1')} → ${sb('dn2')} by name`);
      await eventually(() => pings(c, sb('dn2'), sb('dn1')), 15_000, `${sb('dn2')} → ${sb('dn1')} by name`);
      await eventually(() => pings(c, sb('dn1'), 'dbalias'), 15_000, `${sb('dn1')} → alias dbalias`);
      const ib = await ipOf(w2, sb('dn2'), 'named');
      const got = c.inSandbox(sb('dn1'), ['getent', 'hosts', sb('dn2')]);
      assert.match(got.out, ib, 'the name resolves to the sandbox address');
      assert.is(c.inSandbox(sb('dn1'), ['getent', 'hosts', `${tag}-nosuchname`]).code, 2, 'unknown name: not found');
    } finally {
      await c.destroy();
    }
  });

  test('encrypted overlay: two workers ping each other; two key rotations during a ping loop lose nothing', async () => {
    const c = await createCluster(3, { tag: `${tag}k`, subnet: 47 });
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      // Swarm.RotateKeys has no HTTP route on the agent; the manager's rotation timer runs the same
      // rotateKeys() (new key installed for receive first, then the primary moves), every 4 s here.
      const init = await m.client.swarmInit({ KeyRotationInterval: '4s' });
      for (const w of [w1, w2]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready').length === 3, 15_000, 'three ready nodes');
      await m.client.networkCreate({ Name: 'sealed', Driver: 'overlay', Attachable: true, Options: { encrypted: '' } });
      await w1.client.sandboxCreate({ Name: sb('k1'), Networks: [{ Name: 'sealed' }] });
      await w2.client.sandboxCreate({ Name: sb('k2'), Networks: [{ Name: 'sealed' }] });
      const ia = await ipOf(w1, sb('k1'), 'sealed');
      const ib = await ipOf(w2, sb('k2'), 'sealed');
      await eventually(() => pings(c, sb('k1'), ib), 15_000, `${sb('k1')} → ${ib}`);
      await eventually(() => pings(c, sb('k2'), ia), 15_000, `${sb('k2')} → ${ia}`);
      const { readFileSync } = await import('node:fs');
      const rings = (h: Host) => readFileSync(h.logFile, 'utf8').split('\n').filter((l) => l.includes('key ring handed to the data-path workers')).length;
      const before = [rings(w1), rings(w2)];
      const r = c.inSandbox(sb('k1'), ['ping', '-c', '200', '-i', '0.05', '-W', '1', ib], 60_000);
      const after = [rings(w1), rings(w2)];
      const got = /(\d+) packets transmitted, (\d+) received/.exec(r.out);
      const tx = Number(got?.[1] ?? 0);
      const rx = Number(got?.[2] ?? 0);
      console.log(`  encrypted ping during rotations: ${rx}/${tx}; rings applied on w1 ${before[0]}→${after[0]}, w2 ${before[1]}→${after[1]}`);
      assert.ok(after[0]! - before[0]! >= 2 && after[1]! - before[1]! >= 2, `two rotations reached both workers during the loop (${before} → ${after})`);
      assert.is(tx, 200, r.out);
      assert.ok(tx - rx <= 2, `lost ${tx - rx} of ${tx}`);
    } finally {
      await c.destroy();
    }
  });

  test('node rm: a removed node\'s endpoints leave every host at once', async () => {
    const c = await createCluster(3, { tag: `${tag}r`, subnet: 37 });
    try {
      await formSwarm(c);
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'apps', Driver: 'overlay', Attachable: true });
      await w1.client.sandboxCreate({ Name: sb('r1'), Networks: [{ Name: 'apps' }] });
      await w2.client.sandboxCreate({ Name: sb('r2'), Networks: [{ Name: 'apps' }] });
      await eventually(async () => (await w1.client.network('apps')).Endpoints.some((e) => e.Name === sb('r2')), 10_000, 'w1 sees r2');
      await c.stopAgent(w2, 'SIGKILL');
      await m.client.nodeRemove('h3', true);
      await eventually(async () => !(await w1.client.network('apps')).Endpoints.some((e) => e.Name === sb('r2')), 10_000, 'r2 evicted from w1');
      // node ls keeps listing every gossip member (interface.md): h3 may remain as a failed member, but not as a swarm node.
      const h3 = (await m.client.nodes()).filter((n) => n.Name === 'h3');
      assert.ok(h3.every((n) => n.ID === 'h3' && n.ManagerStatus === ''), `h3 is no longer a swarm node: ${JSON.stringify(h3)}`);
    } finally {
      await c.destroy();
    }
  });

  test('cleanup leaves no namespace, file or process behind, even with sandboxes still running', async () => {
    const c = await createCluster(2, { tag: `${tag}z`, subnet: 35 });
    let agents: number[] = [];
    let kernelNs: string[] = [];
    try {
      await formSwarm(c);
      const [m, w] = c.hosts as [Host, Host];
      await m.client.networkCreate({ Name: 'tmp', Driver: 'overlay', Attachable: true });
      await m.client.sandboxCreate({ Name: sb('m'), Networks: [{ Name: 'tmp' }], Cmd: ['sleep', '300'] });
      await w.client.sandboxCreate({ Name: sb('w'), Networks: [{ Name: 'tmp' }], Cmd: ['sleep', '300'] });
      agents = c.hosts.map((h) => h.agent?.pid ?? 0);
      kernelNs = c.hosts.flatMap((h) => kernelNetworkNamespaces(h.ns));
    } finally {
      await c.destroy();
    }
    const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.not.match(ns, c.prefix);
    assert.not.match(ns, sb('m'));
    assert.not.match(ns, sb('w'));
    for (const k of kernelNs) assert.not.match(ns, k, 'the kernel data path\'s network namespaces went too');
    const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    for (const pid of agents) assert.not.match(ps, new RegExp(`^\\s*${pid}\\s`, 'm'), `agent ${pid} still running`);
    assert.not.match(ps, c.dir, 'no process of this cluster is left');
    assert.not.match(ps, /sleep 300/, 'sandbox commands were stopped');
    const { existsSync } = await import('node:fs');
    assert.ok(!existsSync(`/etc/netns/${sb('m')}`) && !existsSync(c.dir), 'no files left');
  });

  test('Windows guard: a Windows node is refused on an encrypted network, at the command, naming node and reason', async () => {
    const c = await createCluster(3, { tag: `${tag}d`, subnet: 34 });
    try {
      const [m, lin, win] = c.hosts as [Host, Host, Host];
      await c.startAgent(m);
      await c.startAgent(lin);
      await c.startAgent(win, ['--os', 'windows']);
      const init = await m.client.swarmInit({});
      for (const w of [lin, win]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      assert.equal((await m.client.node('h3')).Platform.OS, 'windows');
      await m.client.networkCreate({ Name: 'secret', Driver: 'overlay', Attachable: true, Options: { encrypted: '' } });
      await m.client.networkCreate({ Name: 'plain', Driver: 'overlay', Attachable: true });
      const refused = await failure(win.client.sandboxCreate({ Name: sb('w'), Networks: [{ Name: 'secret' }] }));
      assert.match(refused, /node "h3".*runs Windows/);
      assert.match(refused, /"secret" is encrypted/);
      assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(sb('w')), 'nothing left behind by the refused run');
      await win.client.sandboxCreate({ Name: sb('w2'), Networks: [{ Name: 'plain' }] });
      // A Linux node passes the guard, and its data path seals frames, so the overlay accepts it.
      await lin.client.sandboxCreate({ Name: sb('l'), Networks: [{ Name: 'secret' }] });
    } finally {
      await c.destroy();
    }
  });
}

test.run();
