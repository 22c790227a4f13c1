/**
 * `npm run bench [-- NAME...] [--quick] [-- ARGS...]`: runs every package's `src/bench.ts` (each
 * measures its own reference in the same run and prints ratios), then prints the one-line JSON
 * summaries together. ARGS after a second `--` go to every bench run, as with `bench:compare`
 * (e.g. `npm run bench -- vxlan -- --only weft --v6-pairs 7`). A bench prints its summary as the
 * last line starting with `{`.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgress } from '@weft/progress';
import { findBenches } from './find.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const args = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const passed = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));

const benches: { name: string; file: string }[] = [];
const found = findBenches(root);
for (const [name, file] of found) if (only.length === 0 || only.includes(name)) benches.push({ name, file });
if (benches.length === 0) {
  console.error(`Error: no benchmark matches ${only.join(', ')}; available: ${[...found.keys()].join(', ')}`);
  process.exit(2);
}

const summaries: Record<string, unknown> = {};
let failed = 0;
// Progress and time left on stderr (stdout carries the benches' output and JSON lines).
const progress = createProgress({ title: 'bench', total: benches.length });
for (const b of benches) {
  progress.step(b.name);
  console.log(`\n=== ${b.name} (${path.relative(root, b.file)})`);
  const t0 = Date.now();
  const out: string[] = [];
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', b.file, ...(quick ? ['--quick'] : []), ...passed], { cwd: path.dirname(path.dirname(b.file)), stdio: ['ignore', 'pipe', 'inherit'] });
    // Long benches (the gossip simulator at N=5000 takes ~30 min on 2 cores): WEFT_BENCH_TIMEOUT_MIN.
    const timer = setTimeout(() => child.kill('SIGTERM'), Number(process.env.WEFT_BENCH_TIMEOUT_MIN ?? 90) * 60_000);
    child.stdout.on('data', (d: Buffer) => {
      process.stdout.write(d);
      out.push(d.toString());
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c ?? 1);
    });
  });
  const last = out.join('').trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (code !== 0) failed++;
  try {
    summaries[b.name] = last !== undefined ? JSON.parse(last) : { error: 'no JSON summary line' };
  } catch {
    summaries[b.name] = { error: 'unparseable summary' };
  }
  console.log(`--- ${b.name}: exit ${code} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
progress.done();
console.log('\n=== summary (one JSON line per benchmark)');
for (const [k, v] of Object.entries(summaries)) console.log(JSON.stringify({ bench: k, ...(v as object) }));
process.exit(failed > 0 ? 1 : 0);
