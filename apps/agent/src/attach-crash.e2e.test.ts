/**
 * kill -9 in the middle of a burst of concurrent attaches (root): no acknowledged attach is lost.
 * One agent (a one-node swarm on the embedded store), 16 clients creating bare endpoints at once;
 * the agent is SIGKILLed after 120 acknowledgements and started again. Every acknowledged
 * endpoint must be there with the address it was given, its interface back in the endpoints
 * namespace, no address handed out twice, and new attaches must not reuse any of them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { createCluster, formSwarm } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;

if (!root) {
  test('attach crash (skipped: needs root for network namespaces and TAP devices)', () => console.log('  skipped: run as root to include the attach crash test'));
} else {
  test('kill -9 during 16 concurrent attaches: after the restart every acknowledged endpoint is there, with its address and interface', async () => {
    const c = await createCluster(1, { tag: 'ak', subnet: 64 });
    const h = c.hosts[0]!;
    try {
      await formSwarm(c);
      await h.client.networkCreate({ Name: 'burst', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.140.0.0/16' }] }, Options: { 'weft.dataplane': 'userspace' } });
      const first = await h.client.sandboxCreate({ Name: 'b0', Bare: true, Networks: [{ Name: 'burst' }] });
      const bareNs = path.basename(first.NetnsPath);
      const acked = new Map<string, string>([['b0', first.Networks['burst']!.IPAddress]]);
      let next = 1;
      let failed = 0;
      let killed = false;
      const agent = h.agent!;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (!killed) {
          const name = `b${next++}`;
          try {
            const s = await h.client.sandboxCreate({ Name: name, Bare: true, Networks: [{ Name: 'burst' }] });
            if (!killed) acked.set(name, s.Networks['burst']!.IPAddress);
            if (acked.size >= 120 && !killed) {
              killed = true;
              process.kill(agent.pid!, 'SIGKILL');
            }
          } catch {
            failed++; // in flight when the agent died: never acknowledged
          }
        }
      }));
      await new Promise<void>((r) => (agent.exitCode !== null || agent.signalCode !== null ? r() : agent.once('exit', () => r())));
      h.agent = undefined;
      console.log(`  killed after ${acked.size} acknowledged attaches (${next - 1} asked, ${failed} cut off)`);
      await c.startAgent(h);
      const after = new Map((await h.client.sandboxes()).map((s) => [s.Name, s.Networks['burst']?.IPAddress ?? '']));
      for (const [name, ip] of acked) assert.is(after.get(name), ip, `${name} (acknowledged with ${ip}) after the restart`);
      const addrs = [...after.values()].filter((a) => a !== '');
      assert.is(new Set(addrs).size, addrs.length, 'no address held by two sandboxes');
      // Their interfaces are back (the data path re-attached them from the store).
      const links = execFileSync('ip', ['-n', bareNs, '-o', 'addr', 'show'], { encoding: 'utf8' });
      for (const [name, ip] of acked) assert.ok(links.includes(` ${ip} `) || links.includes(` ${ip}/`) || links.includes(`inet ${ip}`), `${name}'s address ${ip} is on an interface again`);
      // New attaches get new addresses: the allocations were durable too.
      const more = await Promise.all(Array.from({ length: 8 }, (_, i) => h.client.sandboxCreate({ Name: `n${i}`, Bare: true, Networks: [{ Name: 'burst' }] })));
      const taken = new Set(addrs);
      for (const s of more) assert.not.ok(taken.has(s.Networks['burst']!.IPAddress), `${s.Name} got ${s.Networks['burst']!.IPAddress}, already held`);
    } finally {
      await c.destroy();
    }
  });
}

test.run();
