/**
 * Root: the kernel path outlives its agent. kill -9 of an agent process while TCP runs loses no
 * second of traffic; the restarted agent adopts the namespace and the sandbox's veth, replaces
 * what changed and sweeps what nobody re-added; removing the network leaves nothing behind.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { twoHosts, withLab, type Lab } from '@weft/sys';
import { createKernelDataPath } from './datapath.ts';
import type { AgentConfig } from './agent.ts';
import { dropNamespaces, namespacesWith, rootTest } from './testutil.ts';

const agentPath = fileURLToPath(new URL('./agent.ts', import.meta.url));
const pkgDir = fileURLToPath(new URL('..', import.meta.url));

async function startAgent(lab: Lab, ns: string, cfg: AgentConfig): Promise<ChildProcess> {
  // nsenter --net, not `ip netns exec`: the agent must share our mount namespace, or the network
  // namespaces it mounts under /run/netns would be visible only to itself.
  const p = lab.spawn(undefined, 'nsenter', [`--net=/run/netns/${ns}`, process.execPath, '--import', 'tsx', agentPath, JSON.stringify(cfg)], { cwd: pkgDir });
  let out = '';
  let err = '';
  p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`agent in ${ns} not ready: ${err}`)), 20_000);
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(t);
        res();
      }
    });
    p.once('exit', (c) => {
      clearTimeout(t);
      rej(new Error(`agent in ${ns} exited (${c}): ${err}`));
    });
  });
  return p;
}

const net = { id: 'keep', vni: 5252, mtu: 1450, encrypted: false, internal: false, gateways: ['10.52.0.1/24'] };
const m1 = '02:42:0a:34:00:02';
const m2 = '02:42:0a:34:00:03';
const ghost = '02:42:0a:34:00:99';

rootTest('kill -9 with TCP running: traffic goes on, the restarted agent adopts and sweeps; network removal leaves nothing', () =>
  withLab('kvr', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const prefix = `${lab.prefix}n-`;
    try {
      const c1: AgentConfig = {
        dataPathAddr: a1, prefix: `${prefix}a-`, sweepMs: 1500, networks: [net],
        ports: [{ network: 'keep', endpointId: 'e1', mac: m1, ipv4: '10.52.0.2/24', ifname: 'wftk1', dstName: 'eth0', netns: s1 }],
        peers: [{ network: 'keep', mac: m2, ipv4: '10.52.0.3', vtep: a2 }, { network: 'keep', mac: ghost, ipv4: '10.52.0.99', vtep: '198.18.0.9' }],
      };
      const c2: AgentConfig = {
        dataPathAddr: a2, prefix: `${prefix}b-`, networks: [net],
        ports: [{ network: 'keep', endpointId: 'e2', mac: m2, ipv4: '10.52.0.3/24', ifname: 'wftk2', dstName: 'eth0', netns: s2 }],
        peers: [{ network: 'keep', mac: m1, ipv4: '10.52.0.2', vtep: a1 }],
      };
      const ag1 = await startAgent(lab, h1, c1);
      await startAgent(lab, h2, c2);
      lab.exec(s1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.52.0.3']);
      const ns1 = `${prefix}a-keep`;
      const idx = lab.exec(s1, 'ip', ['-o', 'link', 'show', 'eth0']).split(':')[0];
      const srv = lab.spawn(s2, 'iperf3', ['-s', '-1', '-B', '10.52.0.3']);
      await new Promise((r) => setTimeout(r, 400));
      const cli = lab.spawn(s1, 'iperf3', ['-c', '10.52.0.3', '-t', '6', '-b', '200M', '-J']);
      let out = '';
      cli.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const exit = once(cli, 'exit');
      await new Promise((r) => setTimeout(r, 1500));
      await lab.kill(ag1, 'SIGKILL');
      assert.match(lab.exec(ns1, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']), new RegExp(ghost), 'the kernel kept the entries');
      // Restarted without the ghost peer: it stays until the sweep, the rest is adopted.
      await startAgent(lab, h1, { ...c1, peers: [c1.peers[0]!] });
      const [code] = (await exit) as [number];
      assert.is(code, 0, `iperf3 finished: ${out.slice(-200)}`);
      const r = JSON.parse(out) as { intervals: { sum: { bytes: number } }[] };
      assert.ok(r.intervals.length >= 5 && r.intervals.every((i) => i.sum.bytes > 0), `data moved in every second: ${r.intervals.map((i) => i.sum.bytes).join(' ')}`);
      assert.is(lab.exec(s1, 'ip', ['-o', 'link', 'show', 'eth0']).split(':')[0], idx, 'the sandbox kept its veth');
      await new Promise((r) => setTimeout(r, 2500));
      assert.not.match(lab.exec(ns1, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']), new RegExp(ghost), 'the peer nobody re-added was swept');
      assert.not.match(lab.exec(ns1, 'ip', ['neigh', 'show', 'dev', 'vxlan0']), /10\.52\.0\.99/, 'with its neighbour entry');
      lab.exec(s1, 'ping', ['-c', '1', '-W', '2', '10.52.0.3']);
      await lab.kill(srv);
    } finally {
      // Teardown through the data path (an agent that no longer holds the network removes its leftovers).
      const dp = await createKernelDataPath({ dataPathAddr: a1, netns: h1, prefix: `${prefix}a-` });
      await dp.removeNetwork('keep');
      await dp.close();
      assert.equal(namespacesWith(`${prefix}a-`), [], 'no namespace left');
      assert.not.match(lab.exec(h1, 'ip', ['-d', 'link', 'show']), /vxlan id 5252/, 'no vxlan device left');
      assert.not.match(lab.exec(h1, 'ss', ['-uan']), /:4789\b/, 'no vxlan socket left');
      assert.is(lab.run(s1, 'ip', ['link', 'show', 'eth0']).code, 1, "the sandbox's end went with its veth");
      assert.not.match(lab.exec(h1, 'bridge', ['fdb', 'show']), / dst /, 'no FDB entry left');
      dropNamespaces(prefix);
    }
  }));

rootTest('a port made in the agent\'s namespace and moved by its owner (Docker) is re-attached after a restart, not replaced', () =>
  withLab('kvd', async (lab) => {
    const h1 = lab.netns('h1');
    const c1 = lab.netns('c1'); // the container: Docker moves the interface here and renames it
    lab.veth({ ns: h1, name: 'ul0', cidr: '198.18.0.1/24' }, { ns: lab.netns('h2'), name: 'ul0', cidr: '198.18.0.2/24' });
    const prefix = `${lab.prefix}n-`;
    const dnet = { ...net, id: 'dock', vni: 5353, gateways: ['10.53.0.1/24'] };
    const port = { network: 'dock', endpointId: 'd1', mac: m1, ipv4: '10.53.0.2/24', ifname: 'wftd1' };
    let dp = await createKernelDataPath({ dataPathAddr: '198.18.0.1', netns: h1, prefix, sweepMs: 300 });
    try {
      await dp.ensureNetwork(dnet);
      assert.equal(await dp.addPort(port), { ifname: 'wftd1' });
      // What Docker does after Join: move SrcName into the container, rename it, address it.
      lab.exec(h1, 'ip', ['link', 'set', 'wftd1', 'netns', c1]);
      lab.exec(c1, 'ip', ['link', 'set', 'wftd1', 'name', 'eth0']);
      lab.exec(c1, 'ip', ['addr', 'add', '10.53.0.2/24', 'dev', 'eth0']);
      lab.exec(c1, 'ip', ['link', 'set', 'eth0', 'up']);
      lab.exec(c1, 'ping', ['-c', '1', '-W', '2', '10.53.0.1']);
      const idx = lab.exec(c1, 'ip', ['-o', 'link', 'show', 'eth0']).split(':')[0];
      await dp.close();
      // The restarted agent re-adds the port as its driver stored it (no sandbox, the old name).
      dp = await createKernelDataPath({ dataPathAddr: '198.18.0.1', netns: h1, prefix, sweepMs: 300 });
      await dp.ensureNetwork(dnet);
      await dp.addPort(port);
      assert.is(lab.run(c1, 'ip', ['-o', 'link', 'show', 'eth0']).stdout.split(':')[0], idx, "the container kept its interface (the pair was not made again)");
      assert.is(lab.run(h1, 'ip', ['link', 'show', 'wftd1']).code, 1, "nothing new in the agent's namespace");
      await new Promise((r) => setTimeout(r, 600));
      assert.is(lab.run(c1, 'ip', ['-o', 'link', 'show', 'eth0']).stdout.split(':')[0], idx, 're-added, so not swept');
      lab.exec(c1, 'ping', ['-c', '1', '-W', '2', '10.53.0.1']);
      await dp.removePort('dock', 'd1');
      assert.is(lab.run(c1, 'ip', ['link', 'show', 'eth0']).code, 1, 'removePort takes the container\'s end with the pair');
    } finally {
      await dp.removeNetwork('dock');
      await dp.close();
      assert.equal(namespacesWith(prefix), [], 'no namespace left');
      dropNamespaces(prefix);
    }
  }));

test.run();
