/**
 * The etcd cluster harness itself: members start, die by PID, come back on their data, and leave
 * nothing behind; in network namespaces (root) each member serves on its namespace's address.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { etcdSkipReason, startEtcdCluster } from './etcd.ts';
import { createCluster } from './cluster.ts';

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(st);
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function gone(pid: number | undefined): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
  return !alive(pid);
}
const ctl = (ns: string | undefined, args: string[]) =>
  execFileSync(ns !== undefined ? 'nsenter' : 'etcdctl', ns !== undefined ? [`--net=/run/netns/${ns}`, 'etcdctl', ...args] : args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });

const skip = etcdSkipReason();
if (skip !== undefined) {
  test('etcd harness (skipped)', () => console.log(`  skipped: ${skip}`));
} else {
  test('loopback: a member is killed by PID, restarts on its data, and stop() leaves no process and no directory', async () => {
    const c = await startEtcdCluster({ members: 1, tag: 'harness' });
    const dir = c.dir;
    try {
      assert.match(c.url, /^etcd:\/\/127\.0\.0\.1:\d+$/);
      assert.is(c.endpoints.length, 1);
      ctl(undefined, ['--endpoints', c.endpoints[0]!, 'put', 'k', 'v']);
      const pid = c.members[0]!.pid;
      assert.ok(alive(pid));
      c.kill(0);
      assert.ok(await gone(pid), 'killed');
      assert.is(c.members[0]!.pid, undefined);
      await c.restart(0);
      assert.ok(alive(c.members[0]!.pid));
      assert.match(ctl(undefined, ['--endpoints', c.endpoints[0]!, 'get', 'k', '--print-value-only']), /^v/, 'the data survived');
      assert.is(await c.leader(), 0);
    } finally {
      const pid = c.members[0]!.pid;
      await c.stop();
      assert.ok(await gone(pid), 'stop() killed the member');
      assert.not.ok(fs.existsSync(dir), 'stop() removed the data dir');
    }
  });

  const root = process.getuid?.() === 0;
  test('network namespaces: one member per namespace on its address; the others keep quorum when the leader dies', async () => {
    if (!root) {
      console.log('  skipped: needs root for network namespaces');
      return;
    }
    const hosts = await createCluster(3, { tag: 'etcdh', subnet: 73 });
    let c: Awaited<ReturnType<typeof startEtcdCluster>> | undefined;
    try {
      c = await startEtcdCluster({ netns: hosts.hosts.map((h) => h.ns) });
      assert.is(c.url, 'etcd://198.18.73.1:2379,198.18.73.2:2379,198.18.73.3:2379');
      const [h1, , h3] = hosts.hosts;
      ctl(h1!.ns, ['--endpoints', '198.18.73.2:2379', 'put', 'k', 'across']);
      assert.match(ctl(h3!.ns, ['--endpoints', '198.18.73.3:2379', 'get', 'k', '--print-value-only']), /^across/);
      const leader = await c.leader();
      assert.ok(leader !== undefined);
      c.kill(leader!);
      const other = [0, 1, 2].find((i) => i !== leader)!;
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        try {
          ctl(hosts.hosts[other]!.ns, ['--endpoints', c.endpoints[other]!, '--command-timeout', '1s', 'put', 'k2', 'v']);
          ok = true;
        } catch {
          await sleep(200);
        }
      }
      assert.ok(ok, 'writable after the leader died');
      await c.restart(leader!);
      await c.healthy();
    } finally {
      await c?.stop();
      await hosts.destroy();
    }
  });
}

test.run();
