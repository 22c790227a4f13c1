/**
 * End-to-end: the hybrid data plane with real agents in host namespaces (issue #23's "Done when").
 * Root only. Host 3 runs `--data-plane userspace`; the others pick the kernel for plaintext.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createCluster, eventually, kernelNetworkNamespaces, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `k${process.pid % 1000}`;
const sb = (n: string) => `${tag}-${n}`;
const ipOf = async (h: Host, name: string, net: string) => (await h.client.sandbox(name)).Networks[net]!.IPAddress.split('/')[0]!;
const pings = (c: Cluster, from: string, ip: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', ip]).code === 0;
const dig = (c: Cluster, from: string, name: string) =>
  c.inSandbox(from, ['dig', '+short', '+tries=1', '+time=2', name]).out.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l)).sort();
const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** The kernel path's namespace of network `id` made by the agent of host `h` (`wfk-<inode>-<id>`). */
const netnsOf = (h: Host, id: string): string | undefined => {
  const ino = fs.statSync(`/run/netns/${h.ns}`).ino.toString(36);
  return fs.readdirSync('/run/netns').find((n) => n === `wfk-${ino}-${id}`);
};
const leftovers = (h: Host) => kernelNetworkNamespaces(h.ns);

async function swarm(c: Cluster): Promise<Host> {
  const [m, w1, w2] = c.hosts as [Host, Host, Host];
  await c.startAgent(m);
  await c.startAgent(w1);
  await c.startAgent(w2, ['--data-plane', 'userspace']);
  const init = await m.client.swarmInit({});
  for (const w of [w1, w2]) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
  await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready').length === 3, 15_000, 'three ready nodes');
  return m;
}

if (!root) {
  test('hybrid data plane end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root'));
} else {
  test('plaintext on auto: kernel vxlan (ip -d link, counters), names, VIP and published port; a host forced to userspace talks to the others', async () => {
    const c = await createCluster(3, { tag: `${tag}a`, subnet: 41 });
    const S = `${tag}svc`;
    const port = 21000 + (process.pid % 1000);
    try {
      const m = await swarm(c);
      const [, w1, w2] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'plain', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.141.0.0/24' }] } });
      const def = await m.client.network('plain');
      await m.client.sandboxCreate({ Name: sb('m'), Networks: [{ Name: 'plain', Aliases: [`${tag}-alias`] }] });
      await w1.client.sandboxCreate({ Name: sb('a'), Networks: [{ Name: 'plain' }] });
      await w2.client.sandboxCreate({ Name: sb('u'), Networks: [{ Name: 'plain' }] });
      const [im, ia, iu] = [await ipOf(m, sb('m'), 'plain'), await ipOf(w1, sb('a'), 'plain'), await ipOf(w2, sb('u'), 'plain')];
      // Which path each host took, as inspect and peers show it.
      assert.is((await w1.client.network('plain')).DataPlane, 'kernel');
      assert.is((await w2.client.network('plain')).DataPlane, 'userspace');
      await eventually(async () => {
        const p = await w1.client.networkPeers('plain');
        const by = Object.fromEntries(p.Peers.map((x) => [x.Node, x.DataPlane]));
        return p.DataPlane === 'kernel' && by[w2.name] === 'userspace' && by[m.name] === 'kernel';
      }, 15_000, 'network peers shows each host\'s data plane');
      // Frames cross a kernel vxlan device on w1: it is in the network's namespace, with the VNI.
      const ns = netnsOf(w1, def.Id);
      assert.ok(ns !== undefined, `w1 has a namespace for network ${def.Id}`);
      assert.match(sh(['ip', '-n', ns, '-d', 'link', 'show', 'vxlan0']), new RegExp(`vxlan id ${def.VNI} local ${w1.addr.replace(/\./g, '\\.')} .*dstport 4789.*nolearning.*proxy`, 's'));
      const rx = () => (JSON.parse(sh(['ip', '-n', ns, '-j', '-s', 'link', 'show', 'vxlan0'])) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
      const before = rx();
      await eventually(() => pings(c, sb('a'), im), 15_000, 'kernel → kernel');
      await eventually(() => pings(c, sb('a'), iu), 15_000, 'kernel → userspace');
      await eventually(() => pings(c, sb('u'), ia), 15_000, 'userspace → kernel');
      assert.ok(rx() > before, 'the kernel vxlan device received the replies');
      // TCP between the two paths (a kernel peer gets complete inner checksums from the switch).
      const srv = spawn('ip', ['netns', 'exec', sb('u'), 'iperf3', '-s', '-1', '-B', iu], { stdio: 'ignore' });
      try {
        await new Promise((r) => setTimeout(r, 500));
        const r = JSON.parse(c.inSandbox(sb('a'), ['iperf3', '-c', iu, '-t', '2', '-J'], 20_000).out) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
        console.log(`  TCP kernel path → userspace path through agents: ${(r.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s`);
        assert.ok(r.end.sum_received.bytes > 1e6);
      } finally {
        srv.kill('SIGKILL');
      }
      const peers = await w1.client.networkPeers('plain');
      assert.ok((peers.Counters.Remote['rx_packets'] ?? 0) > 0 && (peers.Counters.Remote['tx_packets'] ?? 0) > 0, `network peers' remote counters come from the kernel's vxlan0: ${JSON.stringify(peers.Counters)}`);
      assert.ok((peers.Counters.Local['rx_packets'] ?? 0) > 0, `and the local ones from the sandboxes' veths: ${JSON.stringify(peers.Counters)}`);
      assert.is(peers.DataPlane, 'kernel');
      assert.ok(peers.Peers.some((p) => p.DataPlane === 'userspace') && peers.Peers.some((p) => p.DataPlane === 'kernel'), `each peer's path: ${JSON.stringify(peers.Peers.map((p) => [p.Node, p.DataPlane]))}`);
      // Names through the kernel path's resolver (no switch to intercept DNS there).
      await eventually(() => JSON.stringify(dig(c, sb('a'), sb('u'))) === JSON.stringify([iu]), 15_000, 'a resolves u');
      assert.equal(dig(c, sb('a'), `${tag}-alias`), [im], 'and an alias');
      assert.equal(dig(c, sb('u'), sb('a')), [ia], 'the userspace host resolves the kernel host\'s sandbox');
      assert.ok(c.inSandbox(sb('a'), ['dig', '+tcp', '+short', '+tries=1', '+time=2', sb('m')]).out.includes(im), 'DNS over TCP too');
      // A service VIP: resolves, and TCP to it reaches a task.
      await m.client.serviceCreate({
        Name: S,
        TaskTemplate: { ContainerSpec: { Command: ['sh', '-c', `while true; do echo weft-vip-ok | busybox nc -l -p 8080; done`] }, Networks: [{ Target: 'plain' }] },
        Mode: { Replicated: { Replicas: 2 } },
        EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: port, PublishMode: 'ingress' }] },
      });
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 2, 30_000, '2 running tasks');
      const vip = await eventually(() => dig(c, sb('a'), S).length === 1, 30_000, 'the service name resolves to one VIP').then(() => dig(c, sb('a'), S)[0]!);
      await eventually(() => c.inSandbox(sb('a'), ['busybox', 'nc', '-w', '2', vip, '8080']).out.includes('weft-vip-ok'), 30_000, `TCP to the VIP ${vip}:8080 from the kernel path`);
      // The published port (routing mesh) answers on a kernel-path host.
      await eventually(() => {
        try {
          return sh(['ip', 'netns', 'exec', w1.ns, 'busybox', 'nc', '-w', '2', w1.addr, String(port)]).includes('weft-vip-ok');
        } catch {
          return false;
        }
      }, 30_000, `published port ${port} on ${w1.name}`);
      await m.client.serviceRemove(S);
    } finally {
      await c.destroy();
    }
  });

  test('encrypted on auto stays on the userspace switch: no plaintext on the underlay; kernel + encrypted is refused with the reason', async () => {
    const c = await createCluster(3, { tag: `${tag}b`, subnet: 42 });
    try {
      const m = await swarm(c);
      const [, w1] = c.hosts as [Host, Host, Host];
      const refused = await m.client.networkCreate({ Name: 'nope', Driver: 'overlay', Options: { encrypted: '', 'weft.dataplane': 'kernel' } }).then(() => '(created)', (e: Error) => e.message);
      assert.match(refused, /encrypted network cannot use the kernel data plane/);
      await m.client.networkCreate({ Name: 'secret', Driver: 'overlay', Attachable: true, Options: { encrypted: '' }, IPAM: { Config: [{ Subnet: '10.142.0.0/24' }] } });
      await m.client.sandboxCreate({ Name: sb('sm'), Networks: [{ Name: 'secret' }] });
      await w1.client.sandboxCreate({ Name: sb('sa'), Networks: [{ Name: 'secret' }] });
      assert.is((await w1.client.network('secret')).DataPlane, 'userspace');
      assert.is((await m.client.network('secret')).DataPlane, 'userspace');
      const id = (await m.client.network('secret')).Id;
      assert.is(netnsOf(w1, id), undefined, 'no kernel namespace for an encrypted network');
      const im = await ipOf(m, sb('sm'), 'secret');
      await eventually(() => pings(c, sb('sa'), im), 15_000, 'encrypted ping');
      // Capture the underlay while pinging with a marker payload: it must never appear in clear.
      const pcap = spawn('ip', ['netns', 'exec', w1.ns, 'tcpdump', '-i', 'any', '-l', '-n', '-X', 'udp'], { stdio: ['ignore', 'pipe', 'ignore'] }); // -l: line-buffered, nothing lost in the pipe
      let seen = '';
      pcap.stdout.on('data', (d: Buffer) => (seen += d.toString()));
      try {
        await new Promise((r) => setTimeout(r, 800));
        c.inSandbox(sb('sa'), ['ping', '-c', '3', '-i', '0.2', '-p', 'deadbeefcafe', im]);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        pcap.kill('SIGINT');
        await new Promise((r) => (pcap.exitCode !== null ? r(undefined) : pcap.once('exit', r)));
      }
      assert.ok(/UDP|udp/.test(seen) && seen.length > 500, `the capture saw the underlay traffic (${seen.length} characters)`);
      assert.not.match(seen.replace(/\s/g, ''), /deadbeefcafe/i, 'no plaintext payload on the underlay');
    } finally {
      await c.destroy();
    }
  });

  test('kernel path: agent kill -9 and restart, an established TCP stream goes on; nothing left after network rm', async () => {
    const c = await createCluster(3, { tag: `${tag}c`, subnet: 43 });
    try {
      const m = await swarm(c);
      const [, w1] = c.hosts as [Host, Host, Host];
      await m.client.networkCreate({ Name: 'keep', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.143.0.0/24' }] } });
      const id = (await m.client.network('keep')).Id;
      await m.client.sandboxCreate({ Name: sb('km'), Networks: [{ Name: 'keep' }] });
      await w1.client.sandboxCreate({ Name: sb('kw'), Networks: [{ Name: 'keep' }] });
      const im = await ipOf(m, sb('km'), 'keep');
      await eventually(() => pings(c, sb('kw'), im), 15_000, 'ping before');
      const ifindex = () => sh(['ip', '-n', sb('kw'), '-o', 'link', 'show', 'eth0']).split(':')[0];
      const idx = ifindex();
      const srv = spawn('ip', ['netns', 'exec', sb('km'), 'iperf3', '-s', '-1', '-B', im], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
      // 8 s of TCP, 1 s reports; the agent of w1 dies at ~2 s and comes back.
      const cli = spawn('ip', ['netns', 'exec', sb('kw'), 'iperf3', '-c', im, '-t', '8', '-b', '200M', '-J'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<number>((r) => cli.once('exit', (code) => r(code ?? -1)));
      try {
        await new Promise((r) => setTimeout(r, 2000));
        await c.stopAgent(w1, 'SIGKILL');
        await c.startAgent(w1);
        const code = await done;
        assert.is(code, 0, `iperf3 finished: ${out.slice(-300)}`);
        const r = JSON.parse(out) as { intervals: { sum: { bytes: number } }[]; end: { sum_received: { bytes: number } } };
        assert.ok(r.intervals.length >= 7, 'all intervals reported');
        assert.ok(r.intervals.every((i) => i.sum.bytes > 0), `data moved in every second, agent down or not: ${r.intervals.map((i) => i.sum.bytes).join(' ')}`);
      } finally {
        srv.kill('SIGKILL');
        cli.kill('SIGKILL');
      }
      assert.is(ifindex(), idx, 'the sandbox kept its veth across the restart');
      await eventually(() => pings(c, sb('kw'), im), 15_000, 'ping after the restart');
      assert.ok(netnsOf(w1, id) !== undefined);
      // network rm: every host's namespace, devices and entries go.
      await w1.client.sandboxRemove(sb('kw'), true);
      await m.client.sandboxRemove(sb('km'), true);
      await m.client.networkRemove('keep');
      for (const h of c.hosts) {
        await eventually(() => leftovers(h).length === 0, 15_000, `no network namespace left on ${h.name} (${leftovers(h).join(', ')})`);
        assert.not.match(sh(['ip', '-n', h.ns, '-d', 'link', 'show']), /vxlan id/, `no vxlan device left on ${h.name}`);
        assert.not.match(sh(['ip', 'netns', 'exec', h.ns, 'ss', '-uan']), /:4789\b/, `no vxlan socket left on ${h.name}`);
        assert.not.match(sh(['bridge', '-n', h.ns, 'fdb', 'show']), / dst /, `no FDB entry left on ${h.name}`);
      }
    } finally {
      await c.destroy();
    }
  });
}

test.run();
