/**
 * `npm run soak -- [--endpoints N] [--sample S] [--concurrency C] [--cluster-store embedded|etcd] [--agents M] [--steady SECONDS] [--only endpoints|agents]`
 * (root): the long scale runs of issues 10 and 18 on real agents, printing their figures.
 *
 * - endpoints: N bare endpoints (default 10000) on one host of a two-host swarm, one overlay
 *   network; every name resolved through the embedded DNS from a sandbox on the other host, S
 *   random ones (default 50) pinged by name; agent RSS per endpoint, attach time and the rate of
 *   each 1,000. The swarm's cluster store is the manager's embedded one (default) or, with
 *   `--cluster-store etcd`, a 3-member etcd started for the run (needs the etcd binary).
 * - agents: M agents (default 50) in one swarm, one network namespace each: time until every
 *   agent lists all M alive, then RSS and CPU seconds per agent over a steady window (default 60 s).
 *
 * Exits 1 when a check fails (a name unresolved or wrong, a ping lost, a TAP left, no convergence).
 */
import { loadavg } from 'node:os';
import { agentScale, endpointScale } from '@weft/testing/scale';
import { createProgress } from '@weft/progress';

const args = process.argv.slice(2);
const known = new Set(['endpoints', 'sample', 'concurrency', 'agents', 'steady', 'only', 'cluster-store']);
const usage = 'usage: npm run soak -- [--endpoints N] [--sample S] [--concurrency C] [--cluster-store embedded|etcd] [--agents M] [--steady SECONDS] [--only endpoints|agents]';
const opts = new Map<string, string>();
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
  if (m === null || !known.has(m[1]!)) {
    console.error(`soak: unknown argument "${a}"; ${usage}`);
    process.exit(2);
  }
  const v = m[2] ?? args[++i];
  if (v === undefined) {
    console.error(`soak: --${m[1]} needs a value`);
    process.exit(2);
  }
  opts.set(m[1]!, v);
}
function num(k: string, def: number): number {
  const v = opts.get(k);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`soak: --${k} must be a non-negative integer, not "${v}"`);
    process.exit(2);
  }
  return n;
}
const only = opts.get('only');
if (only !== undefined && only !== 'endpoints' && only !== 'agents') {
  console.error(`soak: --only is "endpoints" or "agents", not "${only}"`);
  process.exit(2);
}
const clusterStore = opts.get('cluster-store') ?? 'embedded';
if (clusterStore !== 'embedded' && clusterStore !== 'etcd') {
  console.error(`soak: --cluster-store is "embedded" or "etcd", not "${clusterStore}"`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('soak: needs root (network namespaces, TAP devices)');
  process.exit(2);
}

const MiB = 2 ** 20;
const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
const tag = `sk${process.pid % 1000}`;
let failed = false;
const check = (ok: boolean, what: string) => {
  if (!ok) failed = true;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

if (only !== 'agents') {
  const n = num('endpoints', 10000);
  const sample = num('sample', 50);
  const concurrency = num('concurrency', 4);
  if (concurrency < 1) {
    console.error('soak: --concurrency must be at least 1 (API requests in flight while attaching)');
    process.exit(2);
  }
  // Attaching is the long part (≈ 1 min for 10,000 on a 2-core VM): its progress, with the time left.
  const progress = createProgress({ title: 'soak endpoints', total: n });
  progress.step('attach', n);
  let last = 1;
  const r = await endpointScale({ endpoints: n, sample, subnet: 60, tag: `${tag}e`, clusterStore, concurrency, log, onAttach: (d) => {
    progress.advance(d - last);
    last = d;
  } });
  progress.done();
  const w = r.attachPerSecondBy1000;
  console.log(`\nendpoints: ${r.endpoints} bare endpoints on one host, one overlay network on the ${r.dataplane} data path, cluster store ${r.clusterStore}, ${concurrency} requests in flight`);
  console.log(`  attach all           ${r.attachSeconds.toFixed(1)} s (${r.attachPerSecond.toFixed(1)} endpoints/s; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  console.log(`  per 1,000            ${w.map((x) => x.toFixed(0)).join(' ')} /s; last/first ${r.lastOverFirst.toFixed(2)}`);
  console.log(`  agent RSS            ${(r.rssBefore / MiB).toFixed(1)} MiB with 1 -> ${(r.rssAfter / MiB).toFixed(1)} MiB with ${r.endpoints}: ${(r.rssPerEndpoint / 1024).toFixed(1)} KiB per endpoint`);
  console.log(`  other host's table   ${r.remoteEntries} entries, complete ${r.replicateSeconds.toFixed(1)} s after the last attach`);
  console.log(`  resolve all names    ${r.resolveSeconds.toFixed(1)} s from a sandbox on the other host`);
  console.log(`  teardown             ${r.teardownSeconds.toFixed(1)} s`);
  check(r.remoteEntries >= r.endpoints + 1, `other host's endpoints table holds all ${r.endpoints} (+ its probe)`);
  check(r.resolveWrong.length === 0, `${r.resolved}/${r.endpoints} names resolve to their address${r.resolveWrong.length > 0 ? ` (wrong or missing: ${r.resolveWrong.slice(0, 5).join(', ')}...)` : ''}`);
  check(r.pingFailed.length === 0, `${r.pinged}/${r.pinged + r.pingFailed.length} random endpoints answer ping by name${r.pingFailed.length > 0 ? ` (lost: ${r.pingFailed.join(', ')})` : ''}; first echo unanswered for ${r.pingRetried.length}${r.pingRetried.length > 0 ? ` (${r.pingRetried.join(', ')})` : ''}`);
  check(r.removedLeftovers === 0, `${r.removed} endpoints removed through the API took their devices with them (${r.removedLeftovers} left)`);
  check(r.leftoverTaps === 0, `no endpoint device left after cleanup (${r.leftoverTaps})`);
  console.log(`JSON ${JSON.stringify({ scenario: 'endpoints', ...r, resolveWrong: r.resolveWrong.length })}`);
}

if (only !== 'endpoints') {
  const m = num('agents', 50);
  const steady = num('steady', 60);
  const progress = createProgress({ title: 'soak agents', total: 1 });
  progress.step(`${m} agents, ${steady} s steady`);
  const r = await agentScale({ agents: m, steadySeconds: steady, subnet: 61, tag: `${tag}a`, log });
  progress.done();
  console.log(`\nagents: ${r.agents} agents in one swarm on this machine`);
  console.log(`  start + join         ${r.startSeconds.toFixed(1)} s (${r.joinRetries} joins retried)`);
  console.log(`  converge             ${r.convergeSeconds.toFixed(1)} s after the last join (every agent lists ${r.agents} alive)`);
  console.log(`  RSS per agent        mean ${(r.rssMean / MiB).toFixed(1)} MiB, max ${(r.rssMax / MiB).toFixed(1)} MiB`);
  console.log(`  CPU per agent        mean ${r.cpuMean.toFixed(2)} s, max ${r.cpuMax.toFixed(2)} s over ${r.steadySeconds} s (${((100 * r.cpuMean) / r.steadySeconds).toFixed(2)} % of a core)`);
  check(r.stillConverged === r.agents, `${r.stillConverged}/${r.agents} agents still list all ${r.agents} alive at the end`);
  console.log(`JSON ${JSON.stringify({ scenario: 'agents', ...r })}`);
}
process.exit(failed ? 1 : 0);
