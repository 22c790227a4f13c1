/**
 * The single-file binaries and the runtimes, measured in one run (docs/benchmarks.md):
 *
 *   node --import tsx tools/binaries/src/bench.ts [--quick] [--only sizes,startup,agent,cipher,datapath]
 *
 * - sizes: weft and weft-agent (bun build --compile), against a Node single-executable
 *   application of the same CLI (esbuild bundle + postject into a copy of node) and the runtimes;
 * - startup: `weft version` (agent unreachable), median of N runs: the binary, the Node SEA, the
 *   sources on Node (bin/weft.js with its cached bundle) and on Deno;
 * - agent: weft-agent start to its API answering GET /version, median of N: binary, Node, Deno;
 * - cipher: @weft/sodium's bench (every backend it can load) under Node, Deno and Bun, the
 *   runtimes interleaved, best of two runs each;
 * - datapath (root): @weft/vxlan's bench, rows weft and weftenc, under Node, Deno and Bun.
 *
 * Prints tables and, last, one line of JSON. The machine is shared: figures are indicative,
 * ratios within one run are what to compare.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { bunPath, buildBinaries, REPO_ROOT } from './build.ts';
import { denoPath, nodePath, run } from './testutil.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',') : ['sizes', 'startup', 'agent', 'cipher', 'datapath'];
const want = (s: string) => only.includes(s);
const N = quick ? 7 : 21;
const AGENT_N = quick ? 3 : 5;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-bench-bin-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const mib = (b: number) => +(b / 2 ** 20).toFixed(1);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
};
const summary: Record<string, unknown> = { bench: 'binaries', quick };

console.log('building the binaries...');
const built = buildBinaries(path.join(work, 'bin'));
const weft = path.join(work, 'bin', 'weft');
const agentBin = path.join(work, 'bin', 'weft-agent');
const deno = denoPath();
const node = nodePath();
const bun = bunPath();

/** A Node single-executable application of the weft CLI (Node 20: a CommonJS main, postject). */
function buildNodeSea(): string | Error {
  try {
    const require = createRequire(import.meta.url);
    const esbuild = require('esbuild') as { buildSync(o: object): unknown };
    const dir = path.join(work, 'sea');
    fs.mkdirSync(dir);
    esbuild.buildSync({
      stdin: { contents: "import { cli } from '@weft/cli';\ncli();\n", resolveDir: path.join(REPO_ROOT, 'tools/binaries/src'), loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      outfile: path.join(dir, 'weft.cjs'),
      logLevel: 'silent',
    });
    fs.writeFileSync(path.join(dir, 'sea.json'), JSON.stringify({ main: 'weft.cjs', output: 'weft.blob', disableExperimentalSEAWarning: true, useCodeCache: true }));
    execFileSync(node, ['--experimental-sea-config', 'sea.json'], { cwd: dir, stdio: 'ignore' });
    const exe = path.join(dir, 'weft-sea');
    fs.copyFileSync(node, exe);
    const postject = path.join(path.dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
    execFileSync(node, [postject, exe, 'NODE_SEA_BLOB', path.join(dir, 'weft.blob'), '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: 'ignore' });
    return exe;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

const sea = want('sizes') || want('startup') ? buildNodeSea() : new Error('not built');
if (sea instanceof Error && (want('sizes') || want('startup'))) console.log(`Node SEA of the CLI: could not build (${sea.message.split('\n')[0]})`);

if (want('sizes')) {
  const rows: [string, number][] = [
    ['weft (bun --compile)', fs.statSync(weft).size],
    ['weft-agent (bun --compile)', fs.statSync(agentBin).size],
    ...(sea instanceof Error ? [] : [['weft (Node SEA, for comparison)', fs.statSync(sea).size] as [string, number]]),
    ['bun runtime alone', fs.statSync(bun).size],
    ['node runtime alone', fs.statSync(node).size],
    ['deno runtime alone', fs.statSync(deno).size],
  ];
  console.log('\nsize');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(34)} ${mib(v).toFixed(1).padStart(7)} MiB`);
  summary.sizesMiB = Object.fromEntries(rows.map(([k, v]) => [k, mib(v)]));
  summary.embedded = built.find((b) => b.name === 'weft-agent')?.entries;
}

/**
 * One run: wall-clock ms, and the CPU ms (user + system) the process used, from /usr/bin/time:
 * on a shared machine the CPU time is the figure that other load does not inflate.
 */
async function timeRun(argv: string[]): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const r = await run(['/usr/bin/time', '-f', 'WEFT-TIME %U %S', ...argv], { env: { ...process.env, NO_COLOR: '1' } });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status} ${r.err.slice(0, 300)}`);
  const m = /WEFT-TIME ([\d.]+) ([\d.]+)/.exec(r.err);
  return { wall, cpu: m === null ? NaN : (Number(m[1]) + Number(m[2])) * 1000 };
}

if (want('startup')) {
  const v = ['-H', 'unix:///nonexistent/weft-bench.sock', 'version'];
  const runners: [string, string[]][] = [
    ['binary (bun --compile)', [weft, ...v]],
    ...(sea instanceof Error ? [] : [['Node SEA', [sea, ...v]] as [string, string[]]]),
    ['sources on Node (bin/weft.js, cached bundle)', [node, path.join(REPO_ROOT, 'apps/cli/bin/weft.js'), ...v]],
    ['sources on Deno (deno run main.ts)', [deno, 'run', '--allow-all', '--config', path.join(REPO_ROOT, 'deno.json'), path.join(REPO_ROOT, 'apps/cli/src/main.ts'), ...v]],
  ];
  for (const [, argv] of runners) await run(argv); // warm caches (the bundle, the page cache)
  // Interleaved rounds so that load from elsewhere falls on every runner alike.
  const per: Record<string, { wall: number; cpu: number }[]> = {};
  for (let i = 0; i < N; i++) for (const [name, argv] of runners) (per[name] ??= []).push(await timeRun(argv));
  console.log(`\nweft version (no agent), median of ${N}: wall clock, and CPU time (user + system)`);
  const results: Record<string, { wallMs: number; minWallMs: number; cpuMs: number }> = {};
  for (const [name] of runners) {
    const xs = per[name]!;
    results[name] = { wallMs: +median(xs.map((x) => x.wall)).toFixed(1), minWallMs: +Math.min(...xs.map((x) => x.wall)).toFixed(1), cpuMs: +median(xs.map((x) => x.cpu)).toFixed(0) };
    const r = results[name]!;
    console.log(`  ${name.padEnd(46)} ${r.wallMs.toFixed(1).padStart(7)} ms wall (fastest ${r.minWallMs.toFixed(1)})  ${String(r.cpuMs).padStart(5)} ms CPU`);
  }
  summary.weftVersion = results;
}

/** Milliseconds from spawning the agent to its API answering GET /version. */
async function agentStartup(argv: string[], i: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(work, 'agent-'));
  const sock = path.join(dir, 'weft.sock');
  const base = 20000 + ((process.pid * 7 + i * 13) % 20000);
  const t0 = performance.now();
  const p = spawn(argv[0]!, [...argv.slice(1), '--socket', sock, '--state-dir', path.join(dir, 'state'), '--node-name', `bench${i}`, '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${base}`, '--gossip-addr', `127.0.0.1:${base + 1}`, '--data-path-port', String(base + 2), '--docker-plugin', 'off'], { stdio: 'ignore' });
  try {
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.get({ socketPath: sock, path: '/version' }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
      });
      if (ok) return performance.now() - t0;
      if (p.exitCode !== null) throw new Error(`${argv.join(' ')} exited ${p.exitCode}`);
      if (performance.now() - t0 > 30_000) throw new Error(`${argv.join(' ')}: no answer in 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
}

if (want('agent')) {
  const runners: [string, string[]][] = [
    ['binary (bun --compile)', [agentBin]],
    ['sources on Node (bin/weft-agent.js, tsx)', [node, path.join(REPO_ROOT, 'apps/agent/bin/weft-agent.js')]],
    ['sources on Deno (deno run main.ts)', [deno, 'run', '--allow-all', '--config', path.join(REPO_ROOT, 'deno.json'), path.join(REPO_ROOT, 'apps/agent/src/main.ts')]],
  ];
  const per: Record<string, number[]> = {};
  let i = 0;
  for (let r = 0; r < AGENT_N; r++) for (const [name, argv] of runners) (per[name] ??= []).push(await agentStartup(argv, i++));
  console.log(`\nweft-agent start until its API answers, median of ${AGENT_N}`);
  const results: Record<string, number> = {};
  for (const [name] of runners) {
    results[name] = Math.round(median(per[name]!));
    console.log(`  ${name.padEnd(46)} ${String(results[name]).padStart(7)} ms`);
  }
  summary.agentStartupMs = results;
}

/** Runs a bench script on each runtime (interleaved, `rounds` times) and returns the JSON summary lines. */
async function onRuntimes(script: string, cwd: string, extra: string[], rounds: number, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown[]>> {
  const runtimes: [string, string[]][] = [
    ['node', [node, '--import', 'tsx', script, ...extra]],
    ['deno', [deno, 'run', '--allow-all', '--config', path.join(REPO_ROOT, 'deno.json'), script, ...extra]],
    ['bun', [bun, script, ...extra]],
  ];
  const out: Record<string, unknown[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, argv] of runtimes) {
      const res = await run(argv, { cwd, env, timeoutMs: 900_000 });
      const last = res.out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (res.status !== 0 || last === undefined) {
        console.log(`  ${name}: ${script} failed (exit ${res.status}): ${res.err.slice(-500)}`);
        continue;
      }
      (out[name] ??= []).push(JSON.parse(last));
    }
  }
  return out;
}

if (want('cipher')) {
  interface CipherRow {
    backend: string;
    mode: string;
    sealGbps: number;
    openGbps: number;
    sealOpenGbps: number;
  }
  const dir = path.join(REPO_ROOT, 'plugins/datapath/sodium');
  const res = await onRuntimes(path.join(dir, 'src/bench.ts'), dir, [`--ms=${quick ? 600 : 1500}`], 2);
  console.log('\n@weft/sodium, 1400-byte packets, one core, Gbit/s of plaintext (best of 2 runs per runtime; seal+open is one packet through both ends)');
  console.log(`  ${'runtime'.padEnd(7)} ${'backend'.padEnd(32)} ${'seal'.padStart(6)} ${'open'.padStart(6)} ${'seal+open'.padStart(10)}`);
  const table: Record<string, Record<string, { seal: number; open: number; sealOpen: number }>> = {};
  for (const [rt, runs] of Object.entries(res)) {
    for (const r of runs as { results: CipherRow[] }[]) {
      for (const row of r.results) {
        const key = `${row.backend} (${row.mode})`;
        const t = ((table[rt] ??= {})[key] ??= { seal: 0, open: 0, sealOpen: 0 });
        t.seal = Math.max(t.seal, row.sealGbps);
        t.open = Math.max(t.open, row.openGbps);
        t.sealOpen = Math.max(t.sealOpen, row.sealOpenGbps);
      }
    }
  }
  for (const [rt, rows] of Object.entries(table)) {
    for (const [k, t] of Object.entries(rows)) console.log(`  ${rt.padEnd(7)} ${k.padEnd(32)} ${t.seal.toFixed(2).padStart(6)} ${t.open.toFixed(2).padStart(6)} ${t.sealOpen.toFixed(2).padStart(10)}`);
  }
  summary.cipherGbps = table;
}

if (want('datapath')) {
  if (process.getuid?.() !== 0) {
    console.log('\ndata path: skipped (needs root)');
  } else {
    const dir = path.join(REPO_ROOT, 'plugins/datapath/vxlan');
    // One cipher backend on every runtime, the one the binary and a `deno install` use: the system libsodium through FFI.
    const rounds = quick ? 1 : 3;
    const res = await onRuntimes(path.join(dir, 'src/bench.ts'), dir, ['--only', 'weft,weftenc', '--seconds', quick ? '2' : '3', '--pings', quick ? '50' : '200'], rounds, { ...process.env, WEFT_BENCH_SODIUM_BACKEND: 'libsodium-ffi' });
    console.log(`\n@weft/vxlan data path between two sandboxes on two hosts (namespaces), plaintext (weft) and encrypted (weftenc: @weft/sodium, backend libsodium-ffi on every runtime); median of ${rounds} interleaved rounds`);
    console.log(`  ${'runtime'.padEnd(7)} ${'row'.padEnd(8)} ${'TCP Gbit/s'.padStart(10)} ${'RTT µs'.padStart(8)} ${'RTT µs busy'.padStart(11)} ${'UDP-64 pps'.padStart(11)}`);
    const table: Record<string, unknown> = {};
    type Row = { tcpGbps: number; rttMedianUs: number; rttBusyUs: number; udpPps: number };
    for (const [rt, runs] of Object.entries(res)) {
      const all = (runs as { results: Record<string, Row> }[]).map((r) => r.results);
      const med: Record<string, Row> = {};
      for (const row of Object.keys(all[0] ?? {})) {
        const pick = (k: keyof Row) => median(all.map((x) => x[row]?.[k] ?? NaN).filter((v) => Number.isFinite(v)));
        med[row] = { tcpGbps: pick('tcpGbps'), rttMedianUs: pick('rttMedianUs'), rttBusyUs: pick('rttBusyUs'), udpPps: pick('udpPps') };
      }
      table[rt] = med;
      for (const [row, x] of Object.entries(med)) {
        console.log(`  ${rt.padEnd(7)} ${row.padEnd(8)} ${x.tcpGbps.toFixed(2).padStart(10)} ${x.rttMedianUs.toFixed(0).padStart(8)} ${x.rttBusyUs.toFixed(0).padStart(11)} ${x.udpPps.toFixed(0).padStart(11)}`);
      }
    }
    summary.datapath = table;
  }
}

summary.loadAverage = os.loadavg().map((x) => +x.toFixed(2));
console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (2 cores; other work on the machine slows every runtime alike within a round)`);
console.log(JSON.stringify(summary));
