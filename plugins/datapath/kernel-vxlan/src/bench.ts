/**
 * Kernel data path benchmark (root): two hosts joined by a veth underlay; in one run, between two
 * sandboxes, TCP throughput (iperf3) and ping RTT (median) through
 *   - `kernel`: a hand-built Linux vxlan device in each sandbox (static FDB/neighbour, the
 *     reference the target is measured against), and
 *   - `weftkernel`: Weft's kernel data path (@weft/kernel-vxlan: namespace, br0 + vxlan0, veth);
 * then the time to program 10,000 remote endpoints (FDB + neighbour entries) into one network.
 *
 *   node --import tsx src/bench.ts [--seconds 5] [--pings 200] [--repeat 5] [--endpoints 10000]
 *
 * Prints a table per run, the medians of the run ratios, and last one line of JSON.
 */
import { execFileSync } from 'node:child_process';
import { rootSkipReason, twoHosts, withLab, type Lab } from '@weft/sys';
import { connectPair } from '@weft/testing';
import { createKernelDataPath, type KernelDataPath } from './mod.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const quick = args.includes('--quick');
const seconds = Number(opt('seconds', quick ? '3' : '5'));
const pings = Number(opt('pings', quick ? '100' : '200'));
const repeat = Number(opt('repeat', quick ? '1' : '5'));
const endpoints = Number(opt('endpoints', '10000'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  tcpGbps: number;
  rttMedianUs: number;
}

async function measure(lab: Lab, client: string, server: string, dst: string): Promise<Result> {
  const srv = lab.spawn(server, 'iperf3', ['-s', '-B', dst]);
  try {
    await sleep(300);
    lab.exec(client, 'ping', ['-c', '3', '-i', '0.1', '-W', '2', dst]);
    const tcp = JSON.parse(lab.exec(client, 'iperf3', ['-c', dst, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 })) as { end: { sum_received: { bits_per_second: number } } };
    const out = lab.exec(client, 'ping', ['-c', String(pings), '-i', '0.01', '-W', '1', dst], { timeoutMs: 60_000 });
    const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
    return { tcpGbps: tcp.end.sum_received.bits_per_second / 1e9, rttMedianUs: rtts[Math.floor(rtts.length / 2)] ?? NaN };
  } finally {
    await lab.kill(srv);
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const dropPrefixed = (prefix: string) => {
  for (const n of execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '')) {
    if (n.startsWith(prefix)) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  }
};

async function oneRun(order: readonly ('kernel' | 'weftkernel')[]): Promise<Record<string, Result>> {
  const results: Record<string, Result> = {};
  await withLab('kbench', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const mtu = 1450;
    for (const mode of order) {
      if (mode === 'kernel') {
        // The reference: vxlan devices made in the hosts (sockets there) and moved into sandboxes.
        const k1 = lab.netns('k1');
        const k2 = lab.netns('k2');
        const sides = [[h1, k1, a1, a2, '02:42:0a:08:00:02', '10.8.0.2'], [h2, k2, a2, a1, '02:42:0a:08:00:03', '10.8.0.3']] as const;
        for (const [h, k, local, , mac, addr] of sides) {
          lab.exec(h, 'ip', ['link', 'add', 'kvx', 'address', mac, 'mtu', String(mtu), 'type', 'vxlan', 'id', '100', 'dstport', '4791', 'local', local, 'nolearning', 'dev', 'ul0']);
          lab.exec(h, 'ip', ['link', 'set', 'kvx', 'netns', k]);
          lab.exec(k, 'ip', ['addr', 'add', `${addr}/24`, 'dev', 'kvx']);
          lab.exec(k, 'ip', ['link', 'set', 'kvx', 'up']);
        }
        for (const [, k, , remote] of sides) {
          const [, , , , pmac, paddr] = sides.find((s) => s[1] !== k)!;
          lab.exec(k, 'bridge', ['fdb', 'append', pmac, 'dev', 'kvx', 'dst', remote]);
          lab.exec(k, 'ip', ['neigh', 'add', paddr, 'lladdr', pmac, 'dev', 'kvx', 'nud', 'permanent']);
        }
        results['kernel'] = await measure(lab, k1, k2, '10.8.0.3');
        continue;
      }
      const w1 = lab.netns('w1');
      const w2 = lab.netns('w2');
      const prefix = `${lab.prefix}n-`;
      const dps: KernelDataPath[] = [];
      try {
        dps.push(await createKernelDataPath({ dataPathAddr: a1, netns: h1, prefix: `${prefix}a-` }));
        dps.push(await createKernelDataPath({ dataPathAddr: a2, netns: h2, prefix: `${prefix}b-` }));
        const [d1, d2] = dps as [KernelDataPath, KernelDataPath];
        const net = { id: 'bench', vni: 4200, mtu, encrypted: false, internal: false, gateways: ['10.7.0.1/24'] };
        await connectPair(
          net,
          { dataPath: d1, vtep: a1, port: { endpointId: 'e1', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2/24', ifname: 'wftb1', dstName: 'eth0', netns: w1 } },
          { dataPath: d2, vtep: a2, port: { endpointId: 'e2', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3/24', ifname: 'wftb2', dstName: 'eth0', netns: w2 } },
        );
        results['weftkernel'] = await measure(lab, w1, w2, '10.7.0.3');
        await d1.removeNetwork('bench');
        await d2.removeNetwork('bench');
      } finally {
        for (const d of dps) await d.close();
        dropPrefixed(prefix);
      }
    }
  });
  return results;
}

/** 10,000 remote endpoints into one network of the kernel path: FDB + neighbour entry each. */
async function program(n: number): Promise<{ addMs: number; removeMs: number; fdb: number }> {
  return withLab('kprog', async (lab) => {
    const { h1, a1 } = twoHosts(lab);
    const prefix = `${lab.prefix}n-`;
    const dp = await createKernelDataPath({ dataPathAddr: a1, netns: h1, prefix });
    try {
      await dp.ensureNetwork({ id: 'many', vni: 4300, mtu: 1450, encrypted: false, internal: false, gateways: ['10.64.0.1/10'] });
      const mac = (i: number) => `02:42:0a:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) dp.addPeer({ network: 'many', mac: mac(i), ipv4: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, vtep: `198.18.${1 + ((i >> 8) & 15)}.${1 + (i & 127)}` });
      const addMs = performance.now() - t0;
      const fdb = execFileSync('bridge', ['-n', dp.namespaceOf('many')!, 'fdb', 'show', 'dev', 'vxlan0'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(' dst ')).length;
      const t1 = performance.now();
      for (let i = 0; i < n; i++) dp.removePeer('many', mac(i));
      const removeMs = performance.now() - t1;
      await dp.removeNetwork('many');
      return { addMs, removeMs, fdb };
    } finally {
      await dp.close();
      dropPrefixed(prefix);
    }
  });
}

async function main(): Promise<void> {
  const skip = rootSkipReason();
  if (skip !== undefined) {
    console.log(`bench skipped: ${skip}`);
    return;
  }
  const runs: { results: Record<string, Result>; tcpRatio: number; rttOverUs: number }[] = [];
  for (let i = 0; i < repeat; i++) {
    // Alternate the order, so neither path always runs on a warmer (or busier) machine.
    const results = await oneRun(i % 2 === 0 ? ['kernel', 'weftkernel'] : ['weftkernel', 'kernel']);
    const k = results['kernel']!;
    const w = results['weftkernel']!;
    const run = { results, tcpRatio: w.tcpGbps / k.tcpGbps, rttOverUs: w.rttMedianUs - k.rttMedianUs };
    runs.push(run);
    console.log(`run ${i + 1}/${repeat}: hand-built kernel vxlan ${k.tcpGbps.toFixed(2)} Gbit/s, RTT ${k.rttMedianUs.toFixed(0)} µs | Weft kernel path ${w.tcpGbps.toFixed(2)} Gbit/s, RTT ${w.rttMedianUs.toFixed(0)} µs | TCP ratio ${run.tcpRatio.toFixed(2)}, RTT ${run.rttOverUs >= 0 ? '+' : ''}${run.rttOverUs.toFixed(0)} µs`);
  }
  const p = await program(endpoints);
  console.log(`${endpoints} endpoints programmed (FDB + neighbour) in ${(p.addMs / 1000).toFixed(2)} s, removed in ${(p.removeMs / 1000).toFixed(2)} s; ${p.fdb} FDB entries seen in the kernel`);
  const tcpRatio = median(runs.map((r) => r.tcpRatio));
  const rttOverUs = median(runs.map((r) => r.rttOverUs));
  console.log(`median of ${repeat}: TCP ${tcpRatio.toFixed(2)} × hand-built kernel vxlan (target ≥ 0.90) [${Math.min(...runs.map((r) => r.tcpRatio)).toFixed(2)} .. ${Math.max(...runs.map((r) => r.tcpRatio)).toFixed(2)}], RTT ${rttOverUs.toFixed(0)} µs over it (target ≤ +20)`);
  console.log(JSON.stringify({ seconds, pings, repeat, runs, tcpVsHandBuiltKernel: tcpRatio, rttOverHandBuiltKernelUs: rttOverUs, endpoints, programSeconds: p.addMs / 1000, removeSeconds: p.removeMs / 1000, fdbEntries: p.fdb }));
}

await main();
