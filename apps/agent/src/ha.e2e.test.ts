/**
 * End-to-end: a highly available control plane on a real etcd (issue #18). Five hosts in network
 * namespaces: h1–h3 run an etcd member and a manager each, h4–h5 are workers. Root only; skipped
 * with a message when etcd is not installed (.ci/run installs etcd-server).
 *
 * What the control unit tests (plugins/cluster/control, on the in-memory store) cannot show,
 * shown here with real agents, real etcd processes and real traffic:
 * - the managers list themselves Leader / Reachable / Reachable; two managers racing (overlapping
 *   subnets, the same name) never both win, before and after a failover; attaches made in
 *   parallel through every manager and worker never share an address;
 * - kill -9 of the leader's agent while two workers' sandboxes ping each other: another manager
 *   accepts `network create` within 10 s, `node ls` lists the dead node Unreachable, a new leader
 *   is elected, attaches go on (workers move to a live manager), a replicated service is back to
 *   its replica count on live nodes, the ping loop never stops answering, nothing is lost;
 * - one etcd member (the raft leader) killed: still writable; restarted: nothing lost; two of
 *   three killed: writes fail with a clear error naming the cluster store while the data path
 *   keeps working; writes resume when they are back, and every network, endpoint, the service
 *   and the key ring are still there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCluster, eventually, type Cluster, type Host } from '@weft/testing/cluster';
import { etcdSkipReason, startEtcdCluster, type EtcdCluster } from '@weft/testing';

const root = process.getuid?.() === 0;
const tag = `ha${process.pid % 1000}`;
const skip = !root ? 'needs root for network namespaces' : etcdSkipReason({ netns: ['x'] });

const pings = (c: Cluster, from: string, name: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', name]).code === 0;
const failure = (p: Promise<unknown>): Promise<string> => p.then(() => '(no error)', (e: Error) => e.message);
const t0 = Date.now();
const step = (what: string) => console.log(`  [${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

/**
 * A cluster write that must succeed. A write in flight when an etcd member dies may or may not
 * have been applied (the client never resends it): retry, and take "already exists" for done.
 */
async function mustWrite(what: string, ms: number, f: () => Promise<unknown>): Promise<number> {
  return eventually(async () => {
    try {
      await f();
    } catch (e) {
      if (!/already exists/.test((e as Error).message)) throw e;
    }
    return true;
  }, ms, what);
}

/** `ping -c count -i interval` from a sandbox, in the background: resolves with the replies received. */
function pingLoop(from: string, name: string, count: number, procs: ChildProcess[]): Promise<{ sent: number; received: number; out: string }> {
  const p = spawn('ip', ['netns', 'exec', from, 'ping', '-c', String(count), '-i', '0.2', '-W', '1', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) =>
    p.once('exit', () => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      resolve({ sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out });
    }),
  );
}

/** Two managers create overlapping subnets (and then the same name) at the same moment: exactly one wins. */
async function race(a: Host, b: Host, round: string, octet: number): Promise<void> {
  const [r1, r2] = await Promise.allSettled([
    a.client.networkCreate({ Name: `${tag}r${round}a`, Driver: 'overlay', IPAM: { Config: [{ Subnet: `10.${octet}.0.0/16` }] } }),
    b.client.networkCreate({ Name: `${tag}r${round}b`, Driver: 'overlay', IPAM: { Config: [{ Subnet: `10.${octet}.128.0/17` }] } }),
  ]);
  const won = [r1, r2].filter((r) => r.status === 'fulfilled').length;
  assert.is(won, 1, `round ${round}: overlapping subnets, ${won} of 2 managers won (${[r1, r2].map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok')).join(' | ')})`);
  const lost = [r1, r2].find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.match((lost.reason as Error).message, /overlaps/);
  const [n1, n2] = await Promise.allSettled([
    a.client.networkCreate({ Name: `${tag}r${round}n`, Driver: 'overlay' }),
    b.client.networkCreate({ Name: `${tag}r${round}n`, Driver: 'overlay' }),
  ]);
  assert.is([n1, n2].filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one name created by both managers`);
  assert.match(((([n1, n2].find((r) => r.status === 'rejected') as PromiseRejectedResult).reason) as Error).message, /already exists/);
}

/** The tail of every agent's and etcd member's log, for a failure. */
function logs(c: Cluster, etcd: EtcdCluster | undefined): string {
  const tail = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-12).join('\n');
    } catch {
      return '(no log)';
    }
  };
  return [...c.hosts.map((h) => `--- ${h.name} (${h.logFile})\n${tail(h.logFile)}`), ...(etcd?.members ?? []).map((m) => `--- ${path.basename(m.logFile)}\n${tail(m.logFile)}`)].join('\n');
}

if (skip !== undefined) {
  test('HA control plane on etcd (skipped)', () => console.log(`  skipped: ${skip}`));
} else {
  test('3 etcd members, 3 managers, 2 workers: races, kill -9 of the leader under traffic; etcd loses one member, then two', async () => {
    const c = await createCluster(5, { tag, subnet: 74 });
    let etcd: EtcdCluster | undefined;
    const procs: ChildProcess[] = [];
    // Bare endpoints share one namespace per agent, which the cluster's destroy() does not know.
    const bareNs = new Set<string>();
    const S = `${tag}web`;
    const NET = `${tag}net`;
    let ok = false;
    try {
      const [h1, h2, h3, h4, h5] = c.hosts as [Host, Host, Host, Host, Host];
      etcd = await startEtcdCluster({ members: 3, tag, netns: [h1, h2, h3].map((h) => ({ ns: h.ns, addr: h.addr })) });
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      const init = await h1.client.swarmInit({ ClusterStore: { URL: etcd.url } });
      for (const h of [h2, h3]) await h.client.swarmJoin({ JoinToken: init.ManagerToken, RemoteAddrs: [`${h1.addr}:2377`] });
      for (const h of [h4, h5]) await h.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${h1.addr}:2377`] });
      await eventually(async () => (await h1.client.nodes()).filter((n) => n.Weft && n.Status === 'ready').length === 5, 30_000, 'five nodes ready');
      await eventually(async () => (await h2.client.nodes()).filter((n) => n.Weft && n.ManagerStatus !== '').map((n) => n.ManagerStatus).sort().join() === 'Leader,Reachable,Reachable', 10_000, 'node ls: Leader, Reachable, Reachable');
      step('swarm of 3 managers on etcd and 2 workers formed');

      // Cluster state made through different managers; races decided by etcd transactions.
      await h2.client.networkCreate({ Name: NET, Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.171.0.0/24' }] } });
      await h3.client.networkCreate({ Name: `${tag}enc`, Driver: 'overlay', Attachable: true, Options: { encrypted: '' } });
      for (let i = 0; i < 3; i++) await race([h1, h2, h3][i]!, [h2, h3, h1][i]!, `${i}`, 100 + i);
      const leaderName = (await h1.client.nodes()).find((n) => n.ManagerStatus === 'Leader')!.Name;
      const leader = c.hosts.find((h) => h.name === leaderName)!;
      const others = [h1, h2, h3].filter((h) => h !== leader) as [Host, Host];
      // Services are changed on any manager (each write compares the record's revision in etcd);
      // the leader's reconciler places the tasks. Two managers creating one name: one wins.
      const svc = (name: string, replicas: number) => ({ Name: name, TaskTemplate: { ContainerSpec: { Command: ['sleep', '3600'] }, Networks: [{ Target: NET }] }, Mode: { Replicated: { Replicas: replicas } } });
      const [s1, s2] = await Promise.allSettled([others[0].client.serviceCreate(svc(S, 3)), others[1].client.serviceCreate(svc(S, 3))]);
      assert.is([s1, s2].filter((r) => r.status === 'fulfilled').length, 1, `one of two managers creating service ${S} wins (${[s1, s2].map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok')).join(' | ')})`);
      assert.match(((([s1, s2].find((r) => r.status === 'rejected') as PromiseRejectedResult).reason) as Error).message, /already exists/);
      const made = await others[1].client.service(S);
      await others[1].client.serviceUpdate(S, made.Version.Index, { ...made.Spec, Mode: { Replicated: { Replicas: 4 } } });
      // ... and read on every manager.
      await eventually(async () => (await others[0].client.service(S)).ServiceStatus?.RunningTasks === 4, 60_000, '4 running tasks');
      await h4.client.sandboxCreate({ Name: `${tag}a`, Networks: [{ Name: NET }], Cmd: ['sleep', '3600'] });
      await h5.client.sandboxCreate({ Name: `${tag}b`, Networks: [{ Name: NET }], Cmd: ['sleep', '3600'] });
      await eventually(() => pings(c, `${tag}a`, `${tag}b`), 20_000, 'a pings b by name');
      // Attaches through every manager and worker at once: no address handed out twice.
      const burst = async (round: string, hosts: readonly Host[]) => {
        const made = await Promise.all(hosts.flatMap((h) => Array.from({ length: 6 }, (_, i) => h.client.sandboxCreate({ Name: `${tag}${round}${h.name}x${i}`, Networks: [{ Name: NET }], Bare: true }))));
        for (const s of made) bareNs.add(path.basename(s.NetnsPath));
        return made;
      };
      const first = await burst('p', c.hosts);
      const ringBefore = await leader.client.rotateKeys();
      step(`networks, 3 races, a 4-replica service, 30 parallel attaches; leader is ${leader.name}`);

      // kill -9 the leader's agent while a pings b.
      const loop = pingLoop(`${tag}a`, `${tag}b`, 50, procs);
      await new Promise((r) => setTimeout(r, 1000));
      const tKill = Date.now();
      await c.stopAgent(leader, 'SIGKILL');
      await eventually(async () => {
        await others[0].client.networkCreate({ Name: `${tag}after`, Driver: 'overlay', Attachable: true });
        return true;
      }, 10_000, 'another manager accepts network create within 10 s');
      step(`network create accepted ${Date.now() - tKill} ms after kill -9 of the leader`);
      const ls = await others[1].client.nodes();
      assert.ok(ls.some((n) => n.Name === leader.name), 'node ls lists the dead manager');
      await eventually(async () => (await others[0].client.nodes()).some((n) => n.ManagerStatus === 'Leader' && n.Name !== leader.name), 10_000, 'a new leader');
      step(`a new leader ${Date.now() - tKill} ms after the kill`);
      await eventually(async () => {
        const d = (await others[1].client.nodes()).find((n) => n.Name === leader.name)!;
        return d.ManagerStatus === 'Unreachable' && d.Status !== 'ready';
      }, 20_000, 'the dead manager is Unreachable and not ready');
      // Attaches go on: on the managers, and on the workers (which joined through h1).
      const second = await burst('q', [...others, h4, h5]);
      await h4.client.sandboxCreate({ Name: `${tag}c`, Networks: [{ Name: `${tag}after` }], Cmd: ['sleep', '3600'] });
      const addrs = [...first, ...second].map((s) => s.Networks[NET]!.IPAddress);
      assert.is(new Set(addrs).size, addrs.length, `an address was handed out twice: ${addrs.join(' ')}`);
      for (let i = 3; i < 5; i++) await race(others[i % 2]!, others[(i + 1) % 2]!, `${i}`, 100 + i);
      // Nothing lost: networks, the key ring; the service is back to 4 running tasks on live nodes.
      const nets = (await others[1].client.networks()).map((n) => n.Name);
      for (const n of [NET, `${tag}enc`, `${tag}after`]) assert.ok(nets.includes(n), `network ${n} is still there`);
      await eventually(async () => {
        const s = await others[0].client.service(S);
        if (s.ServiceStatus?.RunningTasks !== 4) return false;
        return (await others[0].client.tasks({ service: [S] })).filter((t) => t.DesiredState === 'running').every((t) => t.NodeID !== leader.name);
      }, 90_000, 'the service is back to 4 replicas on live nodes');
      step('attaches, races, the service: all go on without the dead leader');
      // The workers' sandboxes never stopped talking.
      // The key ring survived: the new leader's rotation follows the dead leader's.
      const newLeaderName = (await others[0].client.nodes()).find((n) => n.ManagerStatus === 'Leader')!.Name;
      const newLeader = others.find((h) => h.name === newLeaderName)!;
      assert.is((await newLeader.client.rotateKeys()).Rotation, ringBefore.Rotation + 1, 'the key ring carries on from the dead leader\'s rotation');
      const ping = await loop;
      console.log(`  ping a → b across the kill: ${ping.received}/${ping.sent} replies`);
      assert.ok(ping.sent === 50 && ping.received >= 45, `ping lost replies across the kill: ${ping.out.trim().split('\n').slice(-2).join(' ')}`);
      assert.ok(pings(c, `${tag}a`, `${tag}b`), 'a still pings b by name');

      // etcd loses one member, its raft leader: still writable.
      const raftLeader = (await etcd.leader()) ?? 0;
      etcd.kill(raftLeader);
      await mustWrite('a write with one etcd member down', 15_000, () => others[0].client.networkCreate({ Name: `${tag}one-down`, Driver: 'overlay', Attachable: true }));
      await mustWrite('an attach with one etcd member down', 15_000, () => h5.client.sandboxCreate({ Name: `${tag}d`, Networks: [{ Name: `${tag}one-down` }], Bare: true }));
      await etcd.restart(raftLeader);
      await etcd.healthy();
      step(`etcd member ${raftLeader} (the raft leader) killed: still writable; restarted`);

      // Two of three: a clear error naming the cluster store; the data path is unaffected.
      const down = [0, 1, 2].filter((i) => i !== raftLeader);
      for (const i of down) etcd.kill(i);
      // SIGKILL lands asynchronously: a write sent before the second member is gone could still commit.
      await new Promise((r) => setTimeout(r, 300));
      const t1 = Date.now();
      const err = await failure(others[1].client.networkCreate({ Name: `${tag}no-quorum`, Driver: 'overlay', Attachable: true }));
      step(`without quorum: "${err}" after ${Date.now() - t1} ms`);
      assert.match(err, /cluster store/i);
      assert.ok(Date.now() - t1 < 15_000, 'fails within the timeout, not hanging');
      assert.ok(pings(c, `${tag}a`, `${tag}b`), 'data path and DNS keep working without quorum');
      // Back: writes resume.
      for (const i of down) await etcd.restart(i);
      await mustWrite('writes resume once etcd has quorum again', 30_000, () => others[1].client.networkCreate({ Name: `${tag}resumed`, Driver: 'overlay', Attachable: true }));
      step('two etcd members killed and restarted: writes resumed');

      // Nothing lost through any of it, seen from both live managers (once each view has caught up
      // with the store: a manager's watch resumes after the members it used come back).
      const want = [NET, `${tag}enc`, `${tag}after`, `${tag}one-down`, `${tag}resumed`];
      for (const m of others) {
        const caughtUp = await eventually(async () => {
          const names = (await m.client.networks()).map((n) => n.Name);
          return want.every((n) => names.includes(n));
        }, 20_000, `every network listed on ${m.name}: ${want.join(', ')}`);
        if (caughtUp > 0) step(`${m.name}'s view caught up ${caughtUp} ms after the write`);
        const names = (await m.client.networks()).map((n) => n.Name);
        // Without quorum nothing can commit; only a write that was on a dying connection is unknown.
        if (!/may or may not have been applied/.test(err)) assert.ok(!names.includes(`${tag}no-quorum`), 'the write refused without quorum was not applied');
        assert.is((await m.client.service(S)).ServiceStatus?.RunningTasks, 4, `the service on ${m.name}`);
      }
      assert.is((await newLeader.client.rotateKeys()).Rotation, ringBefore.Rotation + 2, 'the key ring is intact after the etcd failures');
      const endpoints = (await h5.client.sandboxes()).filter((s) => s.Name.startsWith(tag) && s.Bare === true).length;
      assert.is(endpoints, 6 + 6 + 1, 'h5 keeps every bare endpoint');
      assert.ok(pings(c, `${tag}a`, `${tag}b`), 'a still pings b by name at the end');
      ok = true;
    } finally {
      if (!ok) console.log(logs(c, etcd));
      for (const p of procs) if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) process.kill(p.pid, 'SIGKILL');
      await c.destroy();
      for (const ns of bareNs) spawnSync('ip', ['netns', 'del', ns]);
      await etcd?.stop();
    }
  });
}

test.run();
