/**
 * Data-path benchmark (root): builds two hosts joined by a veth underlay and measures, in one
 * run, TCP throughput (iperf3), ping RTT (median) and 64-byte UDP packets/s between two
 * sandboxes through Weft, through Linux kernel vxlan devices, and over the bare veth underlay.
 *
 *   node --import tsx src/bench.ts [--seconds 5] [--pings 200] [--offload 0|1] [--threads 1|2] [--gather 0|1] [--nice N] [--tcp 0|1] [--spin µs] [--only weft,kernel,veth]
 *
 * Prints a table with ratios and, last, one line of JSON. The two hosts share this machine's
 * cores with iperf3 and whatever else runs: treat figures as indicative.
 */
import { rootSkipReason, twoHosts, withLab, type Lab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const seconds = Number(opt('seconds', '5'));
const pings = Number(opt('pings', '200'));
const offload = opt('offload', '1') !== '0';
const only = opt('only', 'weft,kernel,veth').split(',');
const spinUs = Number(opt('spin', '0'));
const threads = opt('threads', '1') === '2' ? 2 : 1;
const gather = opt('gather', '0') !== '0';
const nice = Number(opt('nice', '0'));
const withTcp = opt('tcp', '1') !== '0';

interface Result {
  tcpGbps: number;
  rttMedianUs: number;
  udpPps: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(lab: Lab, client: string, server: string, dst: string): Promise<Result> {
  const srv = lab.spawn(server, 'iperf3', ['-s', '-B', dst]);
  try {
    await sleep(300);
    lab.exec(client, 'ping', ['-c', '3', '-i', '0.1', '-W', '2', dst]);
    const tcp = withTcp
      ? (JSON.parse(lab.exec(client, 'iperf3', ['-c', dst, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 })) as {
          end: { sum_received: { bits_per_second: number } };
        })
      : { end: { sum_received: { bits_per_second: NaN } } };
    const pingOut = lab.exec(client, 'ping', ['-c', String(pings), '-i', '0.01', '-W', '1', dst], { timeoutMs: 60_000 });
    const rtts = [...pingOut.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
    const udp = JSON.parse(lab.exec(client, 'iperf3', ['-c', dst, '-u', '-l', '64', '-b', '0', '-t', String(Math.min(seconds, 3)), '-J'], { timeoutMs: 30_000 })) as {
      end: { sum: { packets: number; lost_packets: number; seconds: number } };
    };
    const s = udp.end.sum;
    return {
      tcpGbps: tcp.end.sum_received.bits_per_second / 1e9,
      rttMedianUs: rtts[Math.floor(rtts.length / 2)] ?? NaN,
      udpPps: (s.packets - s.lost_packets) / s.seconds,
    };
  } finally {
    await lab.kill(srv);
  }
}

async function main(): Promise<void> {
  const skip = rootSkipReason();
  if (skip !== undefined) {
    console.log(`bench skipped: ${skip}`);
    return;
  }
  const results: Record<string, Result> = {};
  await withLab('bench', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const mtu = 1450;
    if (only.includes('veth')) results['veth'] = await measure(lab, h1, h2, a2);
    if (only.includes('kernel')) {
      // Kernel vxlan devices created in the hosts (their sockets stay there) and moved into sandboxes.
      const k1 = lab.netns('k1');
      const k2 = lab.netns('k2');
      const sides = [[h1, k1, a1, a2, '02:42:0a:08:00:02', '10.8.0.2'], [h2, k2, a2, a1, '02:42:0a:08:00:03', '10.8.0.3']] as const;
      for (const [h, k, local, , mac, addr] of sides) {
        lab.exec(h, 'ip', ['link', 'add', 'kvx', 'address', mac, 'mtu', String(mtu), 'type', 'vxlan', 'id', '100', 'dstport', '4790', 'local', local, 'nolearning', 'dev', 'ul0']);
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
    }
    if (only.includes('weft')) {
      const w1 = lab.netns('w1');
      const w2 = lab.netns('w2');
      const dps: VxlanDataPath[] = [];
      try {
        dps.push(await createVxlanDataPath({ dataPathAddr: a1, netns: h1, offload, spinUs, threads, gather, nice }));
        dps.push(await createVxlanDataPath({ dataPathAddr: a2, netns: h2, offload, spinUs, threads, gather, nice }));
        const [d1, d2] = dps as [VxlanDataPath, VxlanDataPath];
        const net = { id: 'bench', vni: 4200, mtu, encrypted: false, internal: false, gateways: ['10.7.0.1/24'] };
        await d1.ensureNetwork(net);
        await d2.ensureNetwork(net);
        await d1.addPort({ network: 'bench', endpointId: 'e1', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2/24', ifname: 'wftb1', dstName: 'eth0', netns: w1 });
        await d2.addPort({ network: 'bench', endpointId: 'e2', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3/24', ifname: 'wftb2', dstName: 'eth0', netns: w2 });
        d1.addPeer({ network: 'bench', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3', vtep: a2 });
        d2.addPeer({ network: 'bench', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2', vtep: a1 });
        results['weft'] = await measure(lab, w1, w2, '10.7.0.3');
        if (process.env['WEFT_BENCH_COUNTERS'] === '1') console.log(JSON.stringify({ h1: d1.counters(), h2: d2.counters() }, null, 1));
      } finally {
        for (const d of dps) await d.close();
      }
    }
  });
  const k = results['kernel'];
  const v = results['veth'];
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '-');
  console.log(`offload=${offload ? 'on' : 'off'} threads=${threads} gather=${gather} nice=${nice} spinUs=${spinUs} seconds=${seconds} pings=${pings}`);
  console.log('path     TCP Gbit/s  RTT median µs  UDP-64 pps   TCP vs kernel  vs veth   RTT - kernel µs');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(8)} ${r.tcpGbps.toFixed(2).padStart(10)}  ${r.rttMedianUs.toFixed(0).padStart(13)}  ${r.udpPps.toFixed(0).padStart(10)}   ` +
        `${ratio(r.tcpGbps, k?.tcpGbps).padStart(13)}  ${ratio(r.tcpGbps, v?.tcpGbps).padStart(7)}   ${k !== undefined ? (r.rttMedianUs - k.rttMedianUs).toFixed(0).padStart(15) : '-'}`,
    );
  }
  const w = results['weft'];
  console.log(JSON.stringify({
    offload, threads, gather, nice, spinUs, seconds, results,
    weftVsKernelTcp: w !== undefined && k !== undefined ? w.tcpGbps / k.tcpGbps : null,
    weftVsVethTcp: w !== undefined && v !== undefined ? w.tcpGbps / v.tcpGbps : null,
    weftRttOverKernelUs: w !== undefined && k !== undefined ? w.rttMedianUs - k.rttMedianUs : null,
    weftVsKernelUdpPps: w !== undefined && k !== undefined ? w.udpPps / k.udpPps : null,
  }));
}

await main();
