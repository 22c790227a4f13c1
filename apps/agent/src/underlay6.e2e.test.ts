/**
 * End-to-end: an IPv6 underlay (issue #22) with real agents in host namespaces. Root only.
 *
 * 1. Three hosts with IPv6 underlay addresses only (fd18:0:7b::/64, inside the namespaces): the
 *    agents advertise them, `weft swarm init` prints the join command with `[v6]:2377`, the
 *    workers join with it, gossip runs over UDP6/TCP6 on 7946, and dual-stack overlays work on
 *    both data paths (the userspace switch over AF_INET6 sockets, the kernel's vxlan with an IPv6
 *    `local`): sandboxes on the three hosts ping each other by name over IPv4 and IPv6, the MTU is
 *    1430 (1500 less 70 bytes of VXLAN over IPv6), and an encrypted network shows no plaintext on
 *    the wire.
 * 2. A dual-stack underlay where one host's data path is on IPv6 and the others' on IPv4: the
 *    odd host is refused per network with the node and the addresses named, nothing half-made;
 *    `swarm join --data-path-addr` other than the agent's bound address is refused too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cliCommand, createCluster, eventually, kernelNetworkNamespaces, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `u6${process.pid % 1000}`;
const sb = (n: string) => `${tag}-${n}`;

function weftRun(h: Host, ...args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync(cliCommand()[0]!, [...cliCommand().slice(1), '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function weft(h: Host, ...args: string[]): string {
  const r = weftRun(h, ...args);
  if (r.status !== 0) throw new Error(`weft ${args.join(' ')} on ${h.name} exited ${r.status}: ${r.err}${r.out}`);
  return r.out;
}
const addrs = async (h: Host, name: string, net: string) => {
  const n = (await h.client.sandbox(name)).Networks[net]!;
  return { v4: n.IPAddress.split('/')[0]!, v6: (n.GlobalIPv6Address ?? '').split('/')[0]! };
};
const ping = (c: Cluster, from: string, target: string, v6: boolean) => c.inSandbox(from, ['ping', ...(v6 ? ['-6'] : ['-4']), '-c', '1', '-W', '1', target]);

/** Everything host `h` sees on UDP while `from` pings `target` (IPv6 if `v6`) with `marker` as the payload pattern. */
async function capture(c: Cluster, h: Host, from: string, target: string, marker: string, v6: boolean): Promise<{ seen: string; ping: string }> {
  const pcap = spawn('ip', ['netns', 'exec', h.ns, 'tcpdump', '-i', 'ul0', '-l', '-n', '-X', 'udp'] /* -l: line-buffered */, { stdio: ['ignore', 'pipe', 'ignore'] });
  let seen = '';
  let out = '';
  pcap.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  const closed = new Promise((r) => pcap.once('close', r));
  try {
    await new Promise((r) => setTimeout(r, 800));
    out = c.inSandbox(from, ['ping', ...(v6 ? ['-6'] : ['-4']), '-c', '3', '-i', '0.2', '-p', marker, target]).out;
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    pcap.kill('SIGINT'); // SIGINT: tcpdump flushes what it saw
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    pcap.kill('SIGKILL');
  }
  return { seen, ping: out };
}

/** The hosts' sandboxes ping each other by name, over IPv4 and IPv6, every ordered pair. */
async function pingAll(c: Cluster, names: readonly string[], what: string): Promise<void> {
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      await eventually(() => ping(c, a, b, false).code === 0, 30_000, `${what}: ${a} → ${b} over IPv4 by name`);
      await eventually(() => ping(c, a, b, true).code === 0, 30_000, `${what}: ${a} → ${b} over IPv6 by name`);
    }
  }
}

if (!root) {
  test('IPv6 underlay end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root'));
} else {
  test('IPv6 underlay: swarm init/join over [v6]:2377, gossip on UDP6/TCP6, dual-stack overlays on both data paths ping by name, 1430 MTU, encrypted with no plaintext on the wire', async () => {
    const c = await createCluster(3, { tag, subnet: 123, underlay: 'ipv6' });
    try {
      const [m, w1, w2] = c.hosts as [Host, Host, Host];
      assert.is(m.addr, 'fd18:0:7b::1');
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));

      // Docker's output, with the manager's IPv6 address in brackets.
      const init = weft(m, 'swarm', 'init', '--advertise-addr', m.addr);
      const join = /weft swarm join --token (\S+) (\S+)/.exec(init);
      assert.ok(join !== null, `a join command in:\n${init}`);
      assert.is(join![2], '[fd18:0:7b::1]:2377', 'the manager address as [v6]:2377');
      assert.match(weft(m, 'swarm', 'join-token', 'worker'), `weft swarm join --token ${join![1]} [fd18:0:7b::1]:2377`);
      for (const w of [w1, w2]) assert.is(weft(w, 'swarm', 'join', '--token', join![1]!, '--advertise-addr', w.addr, join![2]!), 'This node joined a swarm as a worker.\n');
      await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready' && n.Weft).length === 3, 30_000, 'three ready nodes (gossip over IPv6)');
      const nodes = await m.client.nodes();
      assert.equal(nodes.map((n) => n.Addr).sort(), ['fd18:0:7b::1', 'fd18:0:7b::2', 'fd18:0:7b::3'], `node addresses: ${JSON.stringify(nodes.map((n) => [n.Name, n.Addr]))}`);
      for (const h of c.hosts) {
        const ss = spawnSync('ip', ['netns', 'exec', h.ns, 'ss', '-Htuln', 'sport = :7946'], { encoding: 'utf8' }).stdout;
        assert.match(ss, /udp .*\[fd18:0:7b::\d\]:7946/, `${h.name}: gossip on UDP6:\n${ss}`);
        assert.match(ss, /tcp .*\[fd18:0:7b::\d\]:7946/, `${h.name}: gossip on TCP6:\n${ss}`);
      }
      const cp = spawnSync('ip', ['netns', 'exec', m.ns, 'ss', '-Htln', 'sport = :2377'], { encoding: 'utf8' }).stdout;
      assert.match(cp, /(\[::\]|\*):2377/, `the control plane listens on [::]:2377 (ss shows a dual-stack wildcard as *):\n${cp}`);

      // Dual-stack overlays on both data paths, a sandbox on every host.
      const planes = [['u6u', 'userspace', 10], ['u6k', 'kernel', 11]] as const;
      for (const [net, plane, i] of planes) {
        await m.client.networkCreate({ Name: net, Driver: 'overlay', Attachable: true, EnableIPv6: true, Options: { 'weft.dataplane': plane }, IPAM: { Config: [{ Subnet: `10.123.${i}.0/24` }, { Subnet: `fd00:7b:${i}::/64` }] } });
        const names = c.hosts.map((h) => sb(`${plane[0]}${h.name}`));
        for (const [k, h] of c.hosts.entries()) await h.client.sandboxCreate({ Name: names[k]!, Networks: [{ Name: net }] });
        const view = await w1.client.network(net);
        assert.is(view.DataPlane, plane);
        assert.is(view.MTU, 1430, `${net}: 1500 less 70 bytes of VXLAN over IPv6`);
        assert.match(c.inSandbox(names[1]!, ['ip', 'link', 'show', 'eth0']).out, 'mtu 1430');
        const a = await addrs(m, names[0]!, net);
        assert.match(a.v6, new RegExp(`^fd00:7b:${i}::`));
        await pingAll(c, names, plane);
        // Full-size frames cross: 1430 inside is 1500 on the IPv6 underlay.
        assert.is(c.inSandbox(names[2]!, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(1430 - 28), a.v4]).code, 0, `${plane}: a 1430-byte IPv4 packet crosses`);
        assert.is(c.inSandbox(names[2]!, ['ping', '-6', '-c', '1', '-W', '2', '-M', 'do', '-s', String(1430 - 48), a.v6]).code, 0, `${plane}: a 1430-byte IPv6 packet crosses`);
      }
      // The kernel path's vxlan device has the host's IPv6 address as `local`.
      const nsOfW1 = kernelNetworkNamespaces(w1.ns);
      assert.ok(nsOfW1.length > 0, 'the kernel path made a namespace for u6k');
      assert.match(spawnSync('ip', ['-n', nsOfW1[0]!, '-d', 'link', 'show', 'vxlan0'], { encoding: 'utf8' }).stdout, `local ${w1.addr}`);

      // Encrypted dual-stack over the IPv6 underlay: no payload in clear, v4 or v6 inside.
      await m.client.networkCreate({ Name: 'u6e', Driver: 'overlay', Attachable: true, EnableIPv6: true, Options: { encrypted: '' }, IPAM: { Config: [{ Subnet: '10.123.12.0/24' }, { Subnet: 'fd00:7b:12::/64' }] } });
      await m.client.sandboxCreate({ Name: sb('ea'), Networks: [{ Name: 'u6e' }] });
      await w1.client.sandboxCreate({ Name: sb('eb'), Networks: [{ Name: 'u6e' }] });
      assert.is((await w1.client.network('u6e')).MTU, 1400, '1430 less the 28-byte envelope');
      await pingAll(c, [sb('ea'), sb('eb')], 'encrypted');
      const marker = 'deadbeefcafe';
      // The same capture of the plaintext network shows the marker, so the capture would see it.
      const clear = await capture(c, w1, sb('uh2'), sb('uh1'), marker, true);
      assert.match(clear.seen.replace(/\s/g, ''), /deadbeefcafe/i, `the plaintext network's payload is visible to the capture (ping: ${clear.ping})`);
      assert.match(clear.seen, /IP6 fd18:0:7b::1\.\d+ > fd18:0:7b::2\.4790: /, 'VXLAN over UDP/IPv6 (the switch\'s port) on the wire');
      for (const v6 of [true, false]) {
        const sealed = await capture(c, w1, sb('eb'), sb('ea'), marker, v6);
        assert.match(sealed.ping, ' 0% packet loss', `the encrypted pings (IPv${v6 ? 6 : 4}) were answered: ${sealed.ping}`);
        assert.match(sealed.seen, /IP6 fd18:0:7b::1\.\d+ > fd18:0:7b::2\.4790: /, `envelopes over UDP/IPv6 seen: ${sealed.seen.slice(0, 400)}`);
        assert.not.match(sealed.seen.replace(/\s/g, ''), /deadbeefcafe/i, `no plaintext (inner IPv${v6 ? 6 : 4}) on the underlay`);
      }
    } finally {
      await c.destroy();
    }
  });

  test('mixed underlay: a host whose data path is on IPv6 among IPv4 ones is refused per network, naming it and the addresses; swarm join with another --data-path-addr than the agent\'s is refused', async () => {
    const c = await createCluster(3, { tag: `${tag}m`, subnet: 124, underlay: 'dual' });
    try {
      const [h1, h2, h3] = c.hosts as [Host, Host, Host];
      assert.is(h3.addr6, 'fd18:0:7c::3');
      await c.startAgent(h1);
      await c.startAgent(h2);
      await c.startAgent(h3, ['--data-path-addr', h3.addr6!]);
      const init = await h1.client.swarmInit({});
      await h2.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${h1.addr}:2377`] });
      // Its agent's data path is bound to its IPv6 address: a join that names another is refused.
      const wrong = weftRun(h3, 'swarm', 'join', '--token', init.WorkerToken, '--data-path-addr', h3.addr, `${h1.addr}:2377`);
      assert.is.not(wrong.status, 0);
      assert.match(wrong.err, `swarm join --data-path-addr ${h3.addr}: this agent's data path runs on fd18:0:7c::3`);
      assert.match(wrong.err, 'restart weft-agent with --data-path-addr 198.18.124.3');
      assert.is(weft(h3, 'swarm', 'join', '--token', init.WorkerToken, `${h1.addr}:2377`), 'This node joined a swarm as a worker.\n');
      await eventually(async () => (await h1.client.nodes()).filter((n) => n.Status === 'ready' && n.Weft).length === 3, 30_000, 'three ready nodes');

      for (const [net, plane] of [['mixu', 'userspace'], ['mixk', 'kernel']] as const) {
        await h1.client.networkCreate({ Name: net, Driver: 'overlay', Attachable: true, Options: { 'weft.dataplane': plane }, IPAM: { Config: [{ Subnet: `10.124.${plane === 'kernel' ? 2 : 1}.0/24` }] } });
        await h1.client.sandboxCreate({ Name: sb(`${net}1`), Networks: [{ Name: net }] });
        await h2.client.sandboxCreate({ Name: sb(`${net}2`), Networks: [{ Name: net }] });
        const r = weftRun(h3, 'run', '-d', '--name', sb(`${net}3`), '--network', net, 'alpine');
        assert.is.not(r.status, 0, `${net}: the IPv6 host was refused`);
        assert.match(r.err, `Cannot attach node h3 to network ${net}: its data-path address fd18:0:7c::3 is IPv6, but the network's other nodes use IPv4 (h1 198.18.124.1, h2 198.18.124.2); VXLAN cannot cross address families`);
        assert.not.ok((await h3.client.sandboxes()).some((s) => s.Name === sb(`${net}3`)), 'no sandbox left behind');
        await eventually(() => ping(c, sb(`${net}1`), sb(`${net}2`), false).code === 0, 30_000, `${net}: the IPv4 hosts still reach each other`);
      }
      // Per network: a network h3 joins first is IPv6's, and the IPv4 hosts are the odd ones there.
      await h1.client.networkCreate({ Name: 'mix6', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.124.3.0/24' }] } });
      assert.is(weft(h3, 'run', '-d', '--name', sb('six3'), '--network', 'mix6', 'alpine').trim().length > 0, true);
      const r = weftRun(h2, 'run', '-d', '--name', sb('six2'), '--network', 'mix6', 'alpine');
      assert.match(r.err, "Cannot attach node h2 to network mix6: its data-path address 198.18.124.2 is IPv4, but the network's other nodes use IPv6 (h3 fd18:0:7c::3)");
    } finally {
      await c.destroy();
    }
  });
}

test.run();
