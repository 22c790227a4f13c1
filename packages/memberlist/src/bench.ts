/**
 * Simulator benchmark: dissemination, failure detection, false positives and bandwidth,
 * side by side with memberlist's published model (serf convergence simulator, spec §16).
 *
 *   node --import tsx src/bench.ts [--n 100,1000,5000] [--minutes 10,10,10] [--loss 0.1] [--seed 1]
 *                                  [--loss-only] [--progress] [--progress-step 60] [--quick] [--long]
 *
 * `--minutes` is the length of the loss run per size (the last value repeats; 0 skips it).
 * Every size gets its 10-minute loss run by default. The N=5000 one dominates: its cost grows
 * with N² (every suspicion and refutation reaches every member: ≈ 4 CPU-s per simulated
 * second; about 45 minutes on the 2-vCPU VM), see README "Measured figures"; `--minutes
 * 10,10,0` leaves it out. `--long` is accepted for the same as the default.
 * `--encryption`: after each size's runs (N ≤ 1000 by default; `--encryption-only` runs just
 * this part for every size given), gossip cost with and without an AES-256-GCM keyring on
 * identical seeded clusters: bytes and CPU per node per simulated second, SWIM alone and with
 * a table-like load (100 epidemic broadcasts of 200 bytes per second cluster-wide), `--reps`
 * alternating repetitions (default 3), median CPU.
 * `--quick`: N=100,1000 with a 1-minute loss run. After each size a cumulative one-line
 * JSON summary is printed (the repo's `npm run bench` runner keeps the last one).
 * N=5000 needs ~8 GB of heap: when the heap limit is lower, the script re-runs itself
 * with `--max-old-space-size=20000 --max-semi-space-size=64`.
 */
import { spawnSync } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { createSimCluster, type SimCluster } from './sim/cluster.ts';
import { LAN_DEFAULTS } from './swim/types.ts';

const args = process.argv.slice(2);
if (getHeapStatistics().heap_size_limit < 16 * 1024 ** 3 && process.env['WEFT_GOSSIP_BENCH_CHILD'] === undefined) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=20000', '--max-semi-space-size=64', ...process.execArgv, process.argv[1] as string, ...args], {
    stdio: 'inherit',
    env: { ...process.env, WEFT_GOSSIP_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : dflt;
};
const quick = args.includes('--quick');
const sizes = opt('n', quick ? '100,1000' : '100,1000,5000').split(',').map(Number);
const minutesList = opt('minutes', quick ? '1' : '10,10,10').split(',').map(Number);
const minutesFor = (i: number): number => minutesList[Math.min(i, minutesList.length - 1)] ?? 0;
const summary: Record<string, number | boolean> = {};
const printSummary = () => console.log(JSON.stringify({ bench: 'gossip-sim', ...summary }));
const loss = Number(opt('loss', '0.1'));
const seed = Number(opt('seed', '1'));
/** `--loss-only`: skip the healthy-cluster measurements; `--progress`: a line per simulated minute. */
const lossOnly = args.includes('--loss-only');
const progress = args.includes('--progress');
/** Simulated seconds between progress lines. */
const progressStepS = Number(opt('progress-step', '60'));

/** serf convergence simulator model: rounds until fraction f, times interval. */
function modelSeconds(n: number, f: number, lossRate: number, fanout = 3, interval = 0.2): number {
  const cn = fanout * 0.5 * (1 - lossRate);
  const x = Math.log(((n + 1) * f) / (1 - f)) / cn;
  return Math.ceil(x) * interval;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function broadcastTrial(c: SimCluster, origin: number, trial: number): Promise<{ t50: number; t9999: number; tAll: number }> {
  const n = c.nodes.length;
  const seen = new Set<string>();
  const start = c.clock.now();
  let t50 = -1;
  let t9999 = -1;
  let tAll = -1;
  const marker = `b${trial}`;
  const offs = c.nodes.map((m, i) =>
    m.onEvent((e) => {
      if (i === origin || e.type !== 'update' || e.member.meta['bench'] !== marker || seen.has(m.name)) return;
      seen.add(m.name);
      const el = c.clock.now() - start;
      if (t50 < 0 && seen.size >= 0.5 * (n - 1)) t50 = el;
      if (t9999 < 0 && seen.size >= Math.ceil(0.9999 * (n - 1))) t9999 = el;
      if (tAll < 0 && seen.size === n - 1) tAll = el;
    }),
  );
  c.nodes[origin]?.setMeta({ role: 'sim', bench: marker });
  await c.clock.runUntil(() => tAll >= 0, 30_000, 100);
  offs.forEach((f) => f());
  return { t50, t9999, tAll };
}

async function detection(c: SimCluster, victim: number): Promise<{ first: number; all: number }> {
  const name = `node-${victim}`;
  const start = c.clock.now();
  let first = -1;
  let count = 0;
  const offs = c.nodes.map((m) =>
    m.onEvent((e) => {
      if (e.member.name !== name) return;
      if (e.type === 'suspect' && first < 0) first = c.clock.now() - start;
      if (e.type === 'dead') count++;
    }),
  );
  c.crash(victim);
  const all = await c.clock.runUntil(() => count >= c.nodes.length - 1, 300_000, 200);
  offs.forEach((f) => f());
  return { first, all };
}

const fmt = (ms: number) => (ms < 0 ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

const msgsIn = (c: SimCluster): number => c.nodes.reduce((a, m) => a + m.counters.messagesIn, 0);
const mb = () => Math.round(process.resourceUsage().maxRSS / 1024);
/** CPU seconds (user + system) used by this process so far. */
const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Dissemination, steady-state bandwidth and crash detection on one converged cluster. */
async function healthyRun(n: number): Promise<void> {
  summary[`n${n}ModelT9999S`] = modelSeconds(n, 0.9999, 0);
  const wall = performance.now();
  const c = await createSimCluster({ n, seed, bootstrap: 'seeded' });
  await c.clock.run(2000);
  // 1. dissemination of one broadcast (alive with new meta)
  const trials = [];
  for (let t = 0; t < 3; t++) trials.push(await broadcastTrial(c, (t * 7919) % n, t));
  const b50 = median(trials.map((x) => x.t50));
  const b9999 = median(trials.map((x) => x.t9999));
  const bAll = median(trials.map((x) => x.tAll));
  // 2. bandwidth in steady state, no loss (10 s window)
  const bytes0 = c.net.bytesSent + c.net.streamBytes;
  await c.clock.run(10_000);
  const bps = (c.net.bytesSent + c.net.streamBytes - bytes0) / n / 10;
  // 3. failure detection
  const det = await detection(c, Math.floor(n / 2));
  const setupWall = (performance.now() - wall) / 1000;
  console.log(`\nN = ${n}`);
  console.log(`  metric                                  weft (sim)      memberlist model`);
  console.log(`  broadcast → 50 % of nodes               ${fmt(b50).padEnd(15)} ${modelSeconds(n, 0.5, 0).toFixed(1)} s`);
  console.log(`  broadcast → 99.99 % of nodes            ${fmt(b9999).padEnd(15)} ${modelSeconds(n, 0.9999, 0).toFixed(1)} s (published: 2.0 s @100, 2.2 s @1000)`);
  console.log(`  broadcast → 100 % of nodes              ${fmt(bAll).padEnd(15)}`);
  console.log(`  crash → first suspicion                 ${fmt(det.first).padEnd(15)} SWIM: ≈1.58 probe periods expected`);
  console.log(`  crash → dead at every member            ${fmt(det.all).padEnd(15)} suspicion min ${(4 * Math.max(1, Math.log10(n))).toFixed(1)} s .. max ${(24 * Math.max(1, Math.log10(n))).toFixed(1)} s after suspicion`);
  console.log(`  bytes/s per node (steady, no loss)      ${bps.toFixed(0).padEnd(15)} ≤ ${(1400 * 3 * 2) / 0.2} B/s upper bound (328 kbit/s)`);
  console.log(`  [wall ${setupWall.toFixed(1)} s, peak RSS so far ${mb()} MB]`);
  Object.assign(summary, {
    [`n${n}T50S`]: Math.round(b50 / 10) / 100,
    [`n${n}T9999S`]: Math.round(b9999 / 10) / 100,
    [`n${n}DeadAtAllS`]: Math.round(det.all / 10) / 100,
    [`n${n}Bps`]: Math.round(bps),
    [`n${n}WallS`]: Math.round(setupWall),
  });
  printSummary();
}

/** False positives at `loss` over `minutes` (progress line every simulated minute). */
async function lossRun(n: number, minutes: number): Promise<void> {
  const wall2 = performance.now();
  const lc = await createSimCluster({ n, seed: seed + 1, bootstrap: 'seeded', loss });
  let fpDead = 0;
  let suspicions = 0;
  lc.nodes.forEach((m) =>
    m.onEvent((e) => {
      if (e.type === 'dead') {
        fpDead++;
        // which observer declared whom dead, when (first 20; with --progress)
        if (progress && fpDead <= 20)
          console.log(`  ! false dead #${fpDead} at ${(lc.clock.now() / 1000).toFixed(1)} s: ${m.name} declared ${e.member.name} (incarnation ${e.member.incarnation}) dead`);
      }
      if (e.type === 'suspect') suspicions++;
    }),
  );
  if (progress) console.log(`  … N=${n} loss run: cluster seeded, wall ${((performance.now() - wall2) / 1000).toFixed(0)} s, CPU ${cpuS().toFixed(0)} s, peak RSS ${mb()} MB`);
  const lb0 = lc.net.bytesSent + lc.net.streamBytes;
  for (let done = 0; done < minutes * 60_000; ) {
    const step = Math.min(progressStepS * 1000, minutes * 60_000 - done);
    await lc.clock.run(step);
    done += step;
    if (progress)
      console.log(`  … N=${n} loss run: ${(done / 60_000).toFixed(2)}/${minutes} simulated min, ${fpDead} false dead, ${suspicions} suspect events, ${msgsIn(lc)} messages handled, ${((lc.net.bytesSent + lc.net.streamBytes - lb0) / n / (done / 1000)).toFixed(0)} B/s per node, wall ${((performance.now() - wall2) / 1000).toFixed(0)} s, CPU ${cpuS().toFixed(0)} s, peak RSS ${mb()} MB`);
  }
  const lbps = (lc.net.bytesSent + lc.net.streamBytes - lb0) / n / (minutes * 60);
  const fpWall = (performance.now() - wall2) / 1000;
  const allAlive = lc.nodes.every((m) => m.numAlive() === n);
  console.log(`  false 'dead' events, ${minutes} min @ ${loss * 100} % loss   ${String(fpDead).padEnd(15)} (suspect events, all observers: ${suspicions}; every node sees all ${n} alive at the end: ${allAlive})`);
  console.log(`  bytes/s per node (${loss * 100} % loss run)          ${lbps.toFixed(0).padEnd(15)} (messages handled per node per s: ${(msgsIn(lc) / n / (minutes * 60)).toFixed(0)})`);
  console.log(`  [wall ${fpWall.toFixed(1)} s, peak RSS so far ${mb()} MB]`);
  Object.assign(summary, {
    [`n${n}LossMinutes`]: minutes,
    [`n${n}FalseDead`]: fpDead,
    [`n${n}SuspectEvents`]: suspicions,
    [`n${n}LossBps`]: Math.round(lbps),
    [`n${n}LossWallS`]: Math.round(fpWall),
    peakRssMB: mb(),
  });
  printSummary();
}

/**
 * Encryption cost: the same seeded cluster with and without a keyring (memberlist's AES-GCM:
 * 29 bytes and one seal per datagram or stream message, one open per received one, trying each
 * installed key). CPU is the process's user + system time over the window, per node per
 * simulated second; the simulator itself (event queue, delivery) is included in both.
 */
async function encryptionRun(n: number): Promise<void> {
  const windowS = Number(opt('window', '30'));
  const reps = Number(opt('reps', '3'));
  const ring = [0, 1, 2].map((k) => Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + k * 7 + 1) & 255));
  const measure = async (keys: boolean, load: boolean): Promise<{ bps: number; cpuUs: number }> => {
    const c = await createSimCluster({ n, seed, bootstrap: 'seeded', ...(keys ? { extra: () => ({ keys: ring }) } : {}) });
    await c.clock.run(2000);
    const payload = new Uint8Array(200);
    const timers: unknown[] = [];
    // 100 broadcasts per second cluster-wide (each node every N/100 s), so every node handles
    // about the same table-like load at any N.
    const every = Math.max(1000, n * 10);
    if (load) c.nodes.forEach((m, i) => {
      const tick = () => {
        m.broadcastUser(payload);
        timers.push(c.clock.setTimeout(tick, every));
      };
      timers.push(c.clock.setTimeout(tick, (i * 997) % every));
    });
    const b0 = c.net.bytesSent + c.net.streamBytes;
    const cpu0 = process.cpuUsage();
    await c.clock.run(windowS * 1000);
    const cpu = process.cpuUsage(cpu0);
    const bps = (c.net.bytesSent + c.net.streamBytes - b0) / n / windowS;
    const refused = c.nodes.reduce((a, m) => a + m.counters.refused.packets + m.counters.refused.streams, 0);
    if (refused > 0) throw new Error(`encryption run refused ${refused} messages`);
    return { bps, cpuUs: (cpu.user + cpu.system) / n / windowS };
  };
  console.log(`\nN = ${n}: gossip with and without encryption (${windowS} simulated s, ${reps} alternating runs, median CPU)`);
  console.log(`  workload                       bytes/s/node plain → AES-GCM      CPU µs/node/s plain → AES-GCM`);
  for (const load of [false, true]) {
    const plain: { bps: number; cpuUs: number }[] = [];
    const sealed: { bps: number; cpuUs: number }[] = [];
    for (let r = 0; r < reps; r++) {
      plain.push(await measure(false, load));
      sealed.push(await measure(true, load));
    }
    const p = { bps: median(plain.map((x) => x.bps)), cpuUs: median(plain.map((x) => x.cpuUs)) };
    const e = { bps: median(sealed.map((x) => x.bps)), cpuUs: median(sealed.map((x) => x.cpuUs)) };
    const name = load ? 'SWIM + 100 broadcasts/s (200 B)' : 'SWIM only (probes, gossip, push/pull)';
    console.log(`  ${name.padEnd(30)} ${p.bps.toFixed(0).padStart(7)} → ${e.bps.toFixed(0).padEnd(7)} (×${(e.bps / p.bps).toFixed(2)})       ${p.cpuUs.toFixed(0).padStart(6)} → ${e.cpuUs.toFixed(0).padEnd(6)} (×${(e.cpuUs / p.cpuUs).toFixed(2)}; runs ${plain.map((x) => x.cpuUs.toFixed(0)).join('/')} → ${sealed.map((x) => x.cpuUs.toFixed(0)).join('/')})`);
    const k = load ? 'Load' : 'Idle';
    Object.assign(summary, {
      [`n${n}Enc${k}BpsPlain`]: Math.round(p.bps),
      [`n${n}Enc${k}BpsSealed`]: Math.round(e.bps),
      [`n${n}Enc${k}CpuUsPlain`]: Math.round(p.cpuUs),
      [`n${n}Enc${k}CpuUsSealed`]: Math.round(e.cpuUs),
    });
  }
  printSummary();
}

const encryptionOnly = args.includes('--encryption-only');
const encryption = args.includes('--encryption') || encryptionOnly;

console.log(`Weft gossip simulator bench (virtual time; LAN defaults: probe ${LAN_DEFAULTS.probeInterval} ms, gossip ${LAN_DEFAULTS.gossipInterval} ms × ${LAN_DEFAULTS.gossipNodes}, latency 1–5 ms)`);
const wall0 = performance.now();
for (const [i, n] of sizes.entries()) {
  if (encryptionOnly) {
    await encryptionRun(n);
    continue;
  }
  // Each run builds its own cluster and drops it before the next one (N² member records).
  if (!lossOnly) await healthyRun(n);
  if (minutesFor(i) > 0) await lossRun(n, minutesFor(i));
  else console.log(`  (loss run skipped for N=${n}: --minutes gives 0 for it)`);
  if (encryption || (!lossOnly && n <= 1000)) await encryptionRun(n);
}
console.log(`\ntotal wall ${((performance.now() - wall0) / 1000).toFixed(1)} s, peak RSS ${mb()} MB`);
summary['totalWallS'] = Math.round((performance.now() - wall0) / 1000);
summary['peakRssMB'] = mb();
printSummary();
