/**
 * `npm run fuzz [-- --n N] [--only NAME[,NAME]] [--seed S]`: runs every harness for N inputs
 * (default 1,000,000; harnesses over real sockets run a fraction, shown as `scale`), printing
 * inputs/s, max heap and the component's counters, then one JSON line with everything.
 * Exit 1 when a harness finds something (fast-check prints the shrunk input).
 */
import { HARNESSES } from './harnesses/mod.ts';
import { KNOWN, runHarness, type RunResult } from './lib.ts';
import { amplification } from './amplification.ts';
import { createProgress } from '@weft/progress';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const n = Number(opt('n') ?? 1_000_000);
const seed = Number(opt('seed') ?? 20261122);
const only = opt('only')?.split(',');
if (!Number.isInteger(n) || n < 1) {
  console.error(`--n must be a positive integer, not ${opt('n')}`);
  process.exit(2);
}
const chosen = HARNESSES.filter((h) => only === undefined || only.includes(h.name));
if (chosen.length === 0 && !(only ?? []).includes('amplification')) {
  console.error(`no harness named ${only?.join(',')}; have: ${HARNESSES.map((h) => h.name).join(', ')}, amplification`);
  process.exit(2);
}

const results: RunResult[] = [];
const failures: { name: string; error: string }[] = [];
const t0 = Date.now();
const runsOf = (h: (typeof chosen)[number]) => Math.max(1, Math.round(n * (h.scale ?? 1)));
const progress = createProgress({ title: 'fuzz', total: chosen.reduce((s, h) => s + runsOf(h), 0) });
for (const h of chosen) {
  const runs = runsOf(h);
  progress.step(h.name, runs);
  process.stdout.write(`${h.name.padEnd(18)} ${runs} inputs ... `);
  try {
    const r = await runHarness(h, runs, seed);
    results.push(r);
    console.log(`${r.perSecond} inputs/s, ${(r.ms / 1000).toFixed(1)} s, max heap ${r.maxHeapMB} MB (after GC: start ${r.heapBeforeMB}, end ${r.heapAfterMB}) ${JSON.stringify(r.counts)}`);
  } catch (e) {
    const full = e instanceof Error ? e.message : String(e);
    // fast-check prints the whole counterexample; a 20 000-deep array is not worth a screen.
    const msg = full.length > 3000 ? `${full.slice(0, 1500)} … ${full.slice(-1000)}` : full;
    failures.push({ name: h.name, error: msg });
    console.log(`FINDING\n${msg}\n`);
  }
}
progress.done();
let amp: Awaited<ReturnType<typeof amplification>> | undefined;
if (only === undefined || only.includes('amplification')) {
  amp = await amplification();
  console.log(`amplification      ${amp.describe}: ${amp.bytes} B packet decoded in ${amp.ms} ms (${amp.messages} messages, ${amp.errors} errors)`);
}
console.log(
  JSON.stringify({
    fuzz: 'weft',
    n,
    seed,
    seconds: Math.round((Date.now() - t0) / 1000),
    harnesses: results.map((r) => ({ name: r.name, inputs: r.inputs, perSecond: r.perSecond, maxHeapMB: r.maxHeapMB, heapStartMB: r.heapBeforeMB, heapEndMB: r.heapAfterMB, counts: r.counts })),
    findings: failures.map((f) => ({ name: f.name, error: f.error.split('\n').slice(0, 6).join(' | ').slice(0, 600) })),
    known: KNOWN,
    ...(amp !== undefined ? { amplification: amp } : {}),
  }),
);
process.exit(failures.length > 0 ? 1 : 0);
