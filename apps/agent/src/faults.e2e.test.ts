/**
 * Fault scenarios of issue 10 with real agents (root; one network namespace per host):
 * - a host cut off the underlay for 30 s, then restored: no DNS name is lost anywhere meanwhile,
 *   and membership, tables and the data path reconverge within 5 s of the link returning;
 * - the manager down (kill -9, then a graceful stop): the data path keeps working, cluster
 *   writes fail fast naming the manager and what to do, and everything resumes when it is back.
 * Figures are printed (`  figure: ...`) and copied into docs/reliability.md.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { createCluster, cliCommand, eventually as poll, formSwarm, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `f${process.pid % 1000}`;
const sb = (n: string) => `${tag}-${n}`;
/** How long the partition lasts (the issue asks for 30 s). */
const CUT_MS = Number(process.env.WEFT_FAULTS_CUT_MS ?? 30_000);
/** Reconvergence budget after the link returns. */
const RECONVERGE_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every 100 ms: the reconvergence figures are measured with it. */
const eventually = (pred: () => Promise<boolean> | boolean, ms: number, what: string) => poll(pred, ms, what, 100);

/** Runs a command in a namespace without blocking the event loop; never rejects. */
function run(ns: string, cmd: readonly string[], timeoutMs = 5000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** dig (bind9-dnsutils) when installed; otherwise glibc's resolver through getent, which asks the same server. */
const HAVE_DIG = ['/usr/bin/dig', '/bin/dig', '/usr/local/bin/dig'].some((p) => fs.existsSync(p));

/** The A records a sandbox's resolver gives for `name` (dig: one try, 1 s timeout). */
async function dig(sandbox: string, name: string): Promise<string[]> {
  const r = HAVE_DIG ? await run(sandbox, ['dig', '+short', '+time=1', '+tries=1', name]) : await run(sandbox, ['getent', 'ahostsv4', name]);
  return [...new Set(r.out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l)))];
}
const pings = async (from: string, to: string) => (await run(from, ['ping', '-c', '1', '-W', '1', to])).code === 0;
const ipOf = async (h: Host, name: string, net: string) => (await h.client.sandbox(name)).Networks[net]!.IPAddress.split('/')[0]!;

/** `weft` CLI against a host's socket: exit code, output, and how long it took. */
function cli(h: Host | string, args: readonly string[], timeoutMs = 30_000): Promise<{ code: number; out: string; ms: number }> {
  const socket = typeof h === 'string' ? h : h.socket;
  const t0 = Date.now();
  return new Promise((resolve) => {
    const [cmd, ...pre] = cliCommand();
    execFile(cmd as string, [...pre, '-H', `unix://${socket}`, ...args], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, out: `${stdout}${stderr}`.trim(), ms: Date.now() - t0 });
    });
  });
}

/** Polls `dig NAME` from `from` until stopped; counts answers that are missing or wrong. */
function watchName(from: string, name: string, want: string) {
  let stop = false;
  const s = { from, name, queries: 0, lost: 0, firstLoss: '' };
  const done = (async () => {
    while (!stop) {
      const got = await dig(from, name);
      s.queries++;
      if (!got.includes(want)) {
        s.lost++;
        if (s.firstLoss === '') s.firstLoss = `${new Date().toISOString()} got [${got.join(',')}]`;
      }
      await sleep(300);
    }
  })();
  return {
    stats: s,
    async stop() {
      stop = true;
      await done;
      return s;
    },
  };
}

if (!root) {
  test('fault scenarios (skipped: need root for network namespaces)', () => console.log('  skipped: run as root to include the partition and manager-down tests'));
} else {
  test(`partition: a host cut off for ${CUT_MS / 1000} s loses no DNS name anywhere and reconverges within ${RECONVERGE_MS / 1000} s of the link returning`, async () => {
    const c = await createCluster(3, { tag: `${tag}p`, subnet: 71 });
    const watchers: ReturnType<typeof watchName>[] = [];
    try {
      await formSwarm(c, 20_000);
      const [m, w1, cut] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'part', Driver: 'overlay', Attachable: true });
      await m.client.sandboxCreate({ Name: sb('p1'), Networks: [{ Name: 'part' }] });
      await w1.client.sandboxCreate({ Name: sb('p2'), Networks: [{ Name: 'part' }] });
      await cut.client.sandboxCreate({ Name: sb('p3'), Networks: [{ Name: 'part' }] });
      const ip = { p1: await ipOf(m, sb('p1'), 'part'), p2: await ipOf(w1, sb('p2'), 'part'), p3: await ipOf(cut, sb('p3'), 'part') };
      const pairs: [string, string, string][] = [
        [sb('p1'), sb('p3'), ip.p3],
        [sb('p2'), sb('p3'), ip.p3],
        [sb('p3'), sb('p1'), ip.p1],
        [sb('p3'), sb('p2'), ip.p2],
      ];
      for (const [from, name, want] of pairs) await eventually(async () => (await dig(from, name)).includes(want), 15_000, `${from} resolves ${name}`);
      await eventually(() => pings(sb('p1'), ip.p3), 10_000, 'p1 → p3 before the cut');
      await eventually(() => pings(sb('p3'), ip.p1), 10_000, 'p3 → p1 before the cut');

      for (const [from, name, want] of pairs) watchers.push(watchName(from, name, want));
      await sleep(1000);
      const tCut = Date.now();
      c.linkDown(cut);
      console.log(`  ${new Date(tCut).toISOString()} link of ${cut.name} down`);
      // The cut must really be seen as a failure, or the test proves nothing.
      const detectMs = await eventually(async () => (await m.client.nodes()).some((n) => n.Name === cut.name && n.Status === 'down'), CUT_MS, `${m.name} sees ${cut.name} down`);
      console.log(`  ${m.name} saw ${cut.name} down ${detectMs} ms into the cut`);
      assert.not.ok(await pings(sb('p1'), ip.p3), 'no traffic crosses the cut');
      await eventually(async () => (await cut.client.nodes()).some((n) => n.Name === m.name && n.Status === 'failed'), 15_000, `${cut.name} sees ${m.name} failed`);
      // Writes on both sides of the cut.
      await w1.client.sandboxCreate({ Name: sb('q2'), Networks: [{ Name: 'part' }] });
      const tq3 = Date.now();
      await cut.client.sandboxCreate({ Name: sb('q3'), Networks: [{ Name: 'part' }] });
      const q3ms = Date.now() - tq3;
      const iq2 = await ipOf(w1, sb('q2'), 'part');
      const iq3 = await ipOf(cut, sb('q3'), 'part');
      await sleep(Math.max(0, tCut + CUT_MS - Date.now()));
      c.linkUp(cut);
      const tUp = Date.now();
      console.log(`  ${new Date(tUp).toISOString()} link of ${cut.name} up after ${tUp - tCut} ms`);

      // Reconvergence: each condition's time after the link returned.
      const others = c.hosts.filter((h) => h !== cut).map((h) => h.name);
      const conds: Record<string, () => Promise<boolean>> = {
        [`${m.name} node ls: ${cut.name} ready`]: async () => (await m.client.nodes()).some((n) => n.Name === cut.name && n.Status === 'ready'),
        [`${cut.name} node ls: ${others.join(', ')} alive`]: async () => {
          const ns = await cut.client.nodes();
          return others.every((o) => ns.some((n) => n.Name === o && (n.Status === 'ready' || n.Status === 'alive')));
        },
        [`${cut.name} resolves ${sb('q2')} (created on ${w1.name} during the cut)`]: async () => (await dig(sb('p3'), sb('q2'))).includes(iq2),
        [`${m.name} resolves ${sb('q3')} (created on ${cut.name} during the cut)`]: async () => (await dig(sb('p1'), sb('q3'))).includes(iq3),
        [`${w1.name} resolves ${sb('q3')}`]: async () => (await dig(sb('p2'), sb('q3'))).includes(iq3),
        [`ping ${sb('p1')} → ${sb('p3')}`]: () => pings(sb('p1'), ip.p3),
        [`ping ${sb('p3')} → ${sb('p1')}`]: () => pings(sb('p3'), ip.p1),
        [`ping ${sb('q3')} → ${sb('q2')}`]: () => pings(sb('q3'), iq2),
        [`ping ${sb('q2')} → ${sb('q3')} by name`]: () => pings(sb('q2'), sb('q3')),
      };
      const took: Record<string, number> = {};
      await Promise.all(
        Object.entries(conds).map(async ([what, pred]) => {
          took[what] = await eventually(pred, 30_000, what).then(() => Date.now() - tUp, () => Infinity);
        }),
      );
      const stats = await Promise.all(watchers.splice(0).map((w) => w.stop()));
      for (const [what, ms] of Object.entries(took)) console.log(`  figure: ${what}: ${ms} ms after the link returned`);
      const reconverged = Math.max(...Object.values(took));
      console.log(`  figure: reconverged ${reconverged} ms after the link returned (cut ${tUp - tCut} ms, failure seen after ${detectMs} ms)`);
      for (const s of stats) console.log(`  figure: ${s.from} → ${s.name}: ${s.queries} queries, ${s.lost} lost${s.lost > 0 ? ` (first ${s.firstLoss})` : ''}`);
      console.log(`  figure: sandbox created on the cut host during the cut in ${q3ms} ms (manager unreachable; the attachment is recorded and sent later)`);
      for (const s of stats) assert.is(s.lost, 0, `${s.from} lost ${s.name} ${s.lost} of ${s.queries} times (first ${s.firstLoss})`);
      for (const [what, ms] of Object.entries(took)) assert.ok(ms <= RECONVERGE_MS, `${what}: ${ms} ms after the link returned (budget ${RECONVERGE_MS} ms)`);
      // The attachment made on the cut host reached the manager once the control session was back:
      // with its own sandbox gone, the manager refuses to remove the network, naming q3 on h3.
      await m.client.sandboxRemove(sb('p1'), true);
      let refusal = '';
      await eventually(async () => {
        refusal = await m.client.networkRemove('part').then(() => '(removed)', (e: Error) => e.message);
        return refusal.includes(sb('q3'));
      }, 15_000, `the manager knows ${sb('q3')} is attached (last answer: ${refusal})`);
      assert.match(refusal, `${cut.name} (${sb('p3')}, ${sb('q3')})`);
    } finally {
      await Promise.all(watchers.map((w) => w.stop()));
      await c.destroy();
    }
  });

  test('manager down (kill -9, then a graceful stop): the data path keeps working, create/rm fail fast naming the manager, and everything resumes when it is back', async () => {
    const c = await createCluster(4, { tag: `${tag}m`, subnet: 72 });
    const watchers: { stop(): Promise<{ queries: number; lost: number; firstLoss: string }> }[] = [];
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      const [m, w1, w2, m2] = c.hosts as [Host, Host, Host, Host]; // m2: refused as a second manager, joins as a worker
      const init = await m.client.swarmInit({});
      for (const w of [w1, w2]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      // The swarm keeps its state in m's embedded store: it has one manager (several managers on
      // etcd are ha.e2e.test.ts). A second manager is refused, saying how to get several.
      const second = await m2.client.swarmJoin({ JoinToken: init.ManagerToken, RemoteAddrs: [`${m.addr}:2377`] }).then(() => '(joined)', (e: Error) => e.message);
      assert.match(second, /embedded store.*--cluster-store etcd:\/\//s);
      await m2.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready').length === 4, 20_000, 'four ready nodes');
      const leader = `${m.addr}:2377`;
      await m.client.networkCreate({ Name: 'md', Driver: 'overlay', Attachable: true });
      await m.client.networkCreate({ Name: 'spare', Driver: 'overlay', Attachable: true });
      await w1.client.sandboxCreate({ Name: sb('m1'), Networks: [{ Name: 'md' }] });
      await w2.client.sandboxCreate({ Name: sb('m2'), Networks: [{ Name: 'md' }] });
      await eventually(() => pings(sb('m1'), sb('m2')), 15_000, 'm1 → m2 by name');
      await eventually(() => pings(sb('m2'), sb('m1')), 15_000, 'm2 → m1 by name');
      const netsBefore = (await m.client.networks()).map((n) => `${n.Name}/${n.Id}/${n.VNI}`).sort();
      const ipsBefore = [await ipOf(w1, sb('m1'), 'md'), await ipOf(w2, sb('m2'), 'md')];

      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        const round = signal === 'SIGKILL' ? 'kill -9' : 'graceful stop';
        for (const [from, to] of [[sb('m1'), sb('m2')], [sb('m2'), sb('m1')]] as const) {
          let stop = false;
          const st = { queries: 0, lost: 0, firstLoss: '' };
          const done = (async () => {
            while (!stop) {
              st.queries++;
              if (!(await pings(from, to))) {
                st.lost++;
                if (st.firstLoss === '') st.firstLoss = new Date().toISOString();
              }
              await sleep(300);
            }
          })();
          watchers.push({ stop: async () => ((stop = true), await done, st) });
        }
        await c.stopAgent(m, signal);
        const tDown = Date.now();
        // Cluster writes: on workers, and against the dead manager's own socket.
        const results: Record<string, { code: number; out: string; ms: number }> = {
          'worker: network create': await cli(w1, ['network', 'create', '-d', 'overlay', '--attachable', `x${signal}`]),
          'worker: network rm': await cli(w1, ['network', 'rm', 'spare']),
          'other worker: network create': await cli(m2, ['network', 'create', '-d', 'overlay', '--attachable', `x${signal}`]),
          'dead manager socket: network create': await cli(m.socket, ['network', 'create', '-d', 'overlay', `x${signal}`]),
        };
        for (const [what, r] of Object.entries(results)) console.log(`  figure: ${round}: ${what}: exit ${r.code} after ${r.ms} ms: ${r.out}`);
        for (const [what, r] of Object.entries(results)) {
          assert.is(r.code, 1, `${what} must fail: ${r.out}`);
          assert.ok(r.ms < 5000, `${what} must fail fast (${r.ms} ms)`);
          if (what.startsWith('dead')) assert.match(r.out, `Cannot connect to the Weft agent at unix://${m.socket}. Is weft-agent running?`);
          else assert.match(r.out, leader, `${what} names the manager address: ${r.out}`);
        }
        assert.match(results['worker: network create']!.out, /not a swarm manager.*none is reachable from this node now.*start or reach one first/);
        assert.match(results['other worker: network create']!.out, /not a swarm manager.*none is reachable from this node now/);
        // Sandboxes: on a network the worker already uses, yes (recorded, sent later); on a new one, a clear refusal.
        const extra = sb(signal === 'SIGKILL' ? 'k' : 't');
        const t0 = Date.now();
        await w1.client.sandboxCreate({ Name: extra, Networks: [{ Name: 'md' }] });
        console.log(`  figure: ${round}: sandbox on a network the worker already uses created in ${Date.now() - t0} ms`);
        const t1 = Date.now();
        const refused = await w1.client.sandboxCreate({ Name: sb('new'), Networks: [{ Name: 'spare' }] }).then(() => '(created)', (e: Error) => e.message);
        console.log(`  figure: ${round}: sandbox on a network new to the worker refused in ${Date.now() - t1} ms: ${refused}`);
        assert.match(refused, `No manager reachable at ${leader}`);
        assert.match(refused, 'attaching to network "spare" (this node has no other sandbox on it yet) needs a manager');
        assert.ok(Date.now() - t1 < 5000, 'refused fast');
        await eventually(() => pings(sb('m2'), extra), 15_000, `${sb('m2')} → ${extra} by name while the manager is down`);
        await sleep(Math.max(0, tDown + 6000 - Date.now()));
        const stats = await Promise.all(watchers.splice(0).map((w) => w.stop()));
        console.log(`  figure: ${round}: ping by name between the workers while the manager was down: ${stats.map((s) => `${s.lost}/${s.queries} lost`).join(', ')}`);
        for (const s of stats) assert.is(s.lost, 0, `pings lost while the manager was down (first at ${s.firstLoss})`);

        // Back.
        await c.startAgent(m);
        const tUp = Date.now();
        await eventually(async () => (await cli(m, ['network', 'create', '-d', 'overlay', '--attachable', `y${signal}`])).code === 0, 20_000, 'create on the manager works again');
        const createMs = Date.now() - tUp;
        await eventually(async () => (await cli(m, ['network', 'rm', `y${signal}`])).code === 0, 10_000, 'rm on the manager works again');
        console.log(`  figure: ${round}: create on the manager works again ${createMs} ms after its agent answered`);
        await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready').length === 4, 20_000, 'four ready nodes again');
        assert.equal((await m.client.networks()).map((n) => `${n.Name}/${n.Id}/${n.VNI}`).sort(), netsBefore, 'networks (IDs, VNIs) intact');
        assert.equal([await ipOf(w1, sb('m1'), 'md'), await ipOf(w2, sb('m2'), 'md')], ipsBefore, 'sandboxes intact');
        // The attachment made while the manager was down reached it.
        let refusal = '';
        await eventually(async () => {
          refusal = await m.client.networkRemove('md').then(() => '(removed)', (e: Error) => e.message);
          return refusal.includes(extra);
        }, 15_000, `the manager knows ${extra} is attached (last answer: ${refusal})`);
        assert.ok(await pings(sb('m1'), sb('m2')), 'data path still fine');
      }
    } finally {
      await Promise.all(watchers.map((w) => w.stop()));
      await c.destroy();
    }
  });
}

test.run();
