/**
 * Gossip cost with and without encryption, on real agents (root: network namespaces).
 *
 *   node --import tsx src/bench.ts [--agents 5] [--seconds 60] [--rounds 2] [--no-swarm]
 *
 * Each round starts `--agents` weft-agents on one underlay twice, alternating: standalone agents
 * gossiping in a star (every agent `--gossip-join` the first) in plaintext, and the same with a
 * `--gossip-key` (memberlist's AES-256-GCM): the same SWIM code, only the keyring differs. After a
 * 10 s warm-up, for `--seconds`: bytes on 7946 (IP length of every UDP/TCP packet, from a
 * tcpdump on the underlay switch) and the agents' CPU (utime + stime from /proc), per node per
 * second. Then, for scale, one swarm (keys from the manager's ring) with an overlay network and a
 * sandbox per node, measured the same way (its CPU includes the control plane's heartbeats).
 * Medians over rounds; the last line is the JSON summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCluster, eventually, type Cluster } from '@weft/testing/cluster';
import { readPcap } from '@weft/testing/pcap';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
};
const quick = args.includes('--quick');
const N = opt('agents', 5);
const SECONDS = opt('seconds', quick ? 20 : 60);
const ROUNDS = opt('rounds', quick ? 1 : 2);
const withSwarm = !args.includes('--no-swarm');

if (process.getuid?.() !== 0) {
  console.log('gossip real-agent bench skipped: needs root (network namespaces)');
  console.log(JSON.stringify({ bench: 'gossip-agents', skipped: true }));
  process.exit(0);
}

const TICK = 100; // USER_HZ on Linux
function cpuTicks(pid: number): number {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  readonly bytesPerNodeS: number;
  readonly packetsPerNodeS: number;
  readonly cpuMsPerNodeS: number;
}

async function measure(c: Cluster): Promise<Figures> {
  await sleep(10_000);
  const pcap = path.join(c.dir, `bench-${Date.now()}.pcap`);
  const cap: ChildProcess = spawn('ip', ['netns', 'exec', c.underlay, 'tcpdump', '-i', 'br0', '-n', '-U', '-s', '96', '-w', pcap, 'port 7946'], { stdio: 'ignore' });
  await sleep(1000);
  const pids = c.hosts.map((h) => h.agent!.pid!);
  const cpu0 = pids.map(cpuTicks);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const cpu1 = pids.map(cpuTicks);
  const secs = (Date.now() - t0) / 1000;
  await sleep(500);
  cap.kill('SIGINT');
  await new Promise((r) => cap.once('exit', r));
  // The capture also spans ~1.5 s around the CPU window; scale its bytes to the window it covered.
  const pkts = readPcap(pcap).filter((p) => p.sport === 7946 || p.dport === 7946);
  const capSecs = secs + 1.5;
  const bytes = pkts.reduce((a, p) => a + p.ipLength, 0);
  return {
    bytesPerNodeS: bytes / N / capSecs,
    packetsPerNodeS: pkts.length / N / capSecs,
    cpuMsPerNodeS: (cpu1.reduce((a, x, i) => a + x - cpu0[i]!, 0) / TICK / N / secs) * 1000,
  };
}

async function standalone(round: number, key: string | undefined): Promise<Figures> {
  const c = await createCluster(N, { tag: `gb${round}${key === undefined ? 'p' : 'k'}`, subnet: 90 });
  try {
    const [first, ...rest] = c.hosts;
    const common = ['--data-path-latency', 'lean', ...(key !== undefined ? ['--gossip-key', key] : [])];
    await c.startAgent(first!, common);
    // One at a time: starting several agents at once on a loaded 2-core machine can exceed the harness start timeout.
    for (const h of rest) await c.startAgent(h, [...common, '--gossip-join', `${first!.addr}:7946`]);
    await eventually(async () => (await first!.client.info()).Members === N, 30_000, `${N} gossip members`);
    const info = await first!.client.info();
    if (info.Gossip.Encrypted !== (key !== undefined)) throw new Error(`gossip encryption is ${info.Gossip.Encrypted}, expected ${key !== undefined}`);
    return await measure(c);
  } finally {
    await c.destroy();
  }
}

async function swarm(): Promise<Figures> {
  const c = await createCluster(N, { tag: 'gbs', subnet: 91 });
  try {
    for (const h of c.hosts) await c.startAgent(h, ['--data-path-latency', 'lean']);
    const [m, ...workers] = c.hosts;
    const init = await m!.client.swarmInit({});
    for (const w of workers) await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m!.addr}:2377`] });
    await eventually(async () => (await m!.client.nodes()).filter((n) => n.Status === 'ready').length === N, 30_000, `${N} ready nodes`);
    await m!.client.networkCreate({ Name: 'bench', Driver: 'overlay', Attachable: true });
    for (const [i, h] of c.hosts.entries()) await h.client.sandboxCreate({ Name: `${c.prefix}s${i}`, Networks: [{ Name: 'bench' }] });
    await eventually(async () => (await m!.client.network('bench')).Endpoints.length === N, 30_000, 'every endpoint everywhere');
    if ((await m!.client.info()).Gossip.KeyEpoch === undefined) throw new Error('the swarm gossips without the ring');
    return await measure(c);
  } finally {
    await c.destroy();
  }
}

const fmt = (f: Figures) => `${f.bytesPerNodeS.toFixed(0).padStart(6)} B/s (${f.packetsPerNodeS.toFixed(1)} packets/s)  ${f.cpuMsPerNodeS.toFixed(2).padStart(6)} ms CPU/s`;
console.log(`Gossip on real agents: ${N} agents, ${SECONDS} s windows, ${ROUNDS} round(s); per node per second`);
const plain: Figures[] = [];
const sealed: Figures[] = [];
const key = randomBytes(32).toString('base64');
for (let r = 0; r < ROUNDS; r++) {
  plain.push(await standalone(r, undefined));
  console.log(`  round ${r + 1} plaintext        ${fmt(plain[r]!)}`);
  sealed.push(await standalone(r, key));
  console.log(`  round ${r + 1} --gossip-key     ${fmt(sealed[r]!)}`);
}
const med = (fs: Figures[]): Figures => ({ bytesPerNodeS: median(fs.map((f) => f.bytesPerNodeS)), packetsPerNodeS: median(fs.map((f) => f.packetsPerNodeS)), cpuMsPerNodeS: median(fs.map((f) => f.cpuMsPerNodeS)) });
const p = med(plain);
const e = med(sealed);
console.log(`  median plaintext         ${fmt(p)}`);
console.log(`  median AES-256-GCM       ${fmt(e)}   (bytes ×${(e.bytesPerNodeS / p.bytesPerNodeS).toFixed(2)}, CPU ×${(e.cpuMsPerNodeS / p.cpuMsPerNodeS).toFixed(2)})`);
const summary: Record<string, number> = {
  agents: N,
  seconds: SECONDS,
  plainBps: Math.round(p.bytesPerNodeS),
  sealedBps: Math.round(e.bytesPerNodeS),
  plainCpuMs: Math.round(p.cpuMsPerNodeS * 100) / 100,
  sealedCpuMs: Math.round(e.cpuMsPerNodeS * 100) / 100,
};
if (withSwarm) {
  const s = await swarm();
  console.log(`  swarm (ring keys, 1 network, 1 sandbox per node)  ${fmt(s)}`);
  Object.assign(summary, { swarmBps: Math.round(s.bytesPerNodeS), swarmCpuMs: Math.round(s.cpuMsPerNodeS * 100) / 100 });
}
console.log(JSON.stringify({ bench: 'gossip-agents', ...summary }));
