/**
 * `npm run bench:compare -- --base REV [--rounds N] NAME... [-- ARGS...]`: runs the named
 * benchmarks (a package's `src/bench.ts`, by folder name) on the commit REV and on the working
 * tree, alternating base/head for N rounds so both see the same machine load, then prints the
 * median of every numeric field of each bench's JSON summary line, base against head, with the
 * ratio head/base. ARGS after `--` go to every bench run (e.g. `-- --seconds 3 --only weft`).
 * `NAME=OLD` compares the head's NAME with the base's OLD, for a package that was renamed
 * (`memberlist=gossip`: the memberlist library lived in plugins/gossip before the grouping).
 *
 * REV is checked out in a temporary git worktree (with its own `npm install --prefer-offline`),
 * removed at the end, also on failure or Ctrl-C.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBenches } from './find.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const usage = 'Usage: npm run bench:compare -- --base REV [--rounds N] NAME[=BASENAME]... [-- ARGS...]';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const passed = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
let base: string | undefined;
let rounds = 3;
const names: string[] = [];
for (let i = 0; i < own.length; i++) {
  const a = own[i]!;
  if (a === '--base') base = own[++i];
  else if (a === '--rounds') {
    const v = own[++i];
    rounds = Number(v);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
      console.error(`Error: --rounds ${JSON.stringify(v)} must be a whole number from 1 to 50\n${usage}`);
      process.exit(2);
    }
  } else if (a === '--help' || a === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`Error: unknown flag ${a}\n${usage}`);
    process.exit(2);
  } else names.push(a);
}
if (base === undefined || names.length === 0) {
  console.error(`Error: give --base REV and at least one benchmark name\n${usage}`);
  process.exit(2);
}
let rev: string;
try {
  rev = execFileSync('git', ['rev-parse', '--verify', `${base}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
} catch {
  console.error(`Error: --base ${JSON.stringify(base)} is not a commit of this repository (try a hash from git log)`);
  process.exit(2);
}
const headBenches = findBenches(root);
const baseName = new Map(names.map((n) => [n.split('=')[0]!, n.split('=')[1] ?? n.split('=')[0]!]));
names.splice(0, names.length, ...baseName.keys());
for (const n of names) {
  if (!headBenches.has(n)) {
    console.error(`Error: no benchmark named ${JSON.stringify(n)}; available: ${[...headBenches.keys()].join(', ')}`);
    process.exit(2);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-bench-base-'));
const cleanup = () => {
  try {
    execFileSync('git', ['worktree', 'remove', '--force', tmp], { cwd: root, stdio: 'ignore' });
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      execFileSync('git', ['worktree', 'prune'], { cwd: root, stdio: 'ignore' });
    } catch {
      /* nothing to prune */
    }
  }
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** Flattens the numeric fields of a summary: `{a: {b: 1}, c: [2]}` → `a.b`, `c.0`. */
function numbers(v: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof v === 'number' && Number.isFinite(v)) out.set(prefix, v);
  else if (Array.isArray(v)) v.forEach((x, i) => numbers(x, prefix === '' ? String(i) : `${prefix}.${i}`, out));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) numbers(x, prefix === '' ? k : `${prefix}.${k}`, out);
  }
  return out;
}

function runBench(file: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...passed], { cwd: path.dirname(path.dirname(file)), stdio: ['ignore', 'pipe', 'inherit'] });
    const out: string[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    child.on('exit', (code) => {
      const last = out.join('').trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
      if (code !== 0 || last === undefined) return reject(new Error(`${file} exited ${code} ${last === undefined ? 'without a JSON summary line' : ''}`));
      try {
        resolve(numbers(JSON.parse(last)));
      } catch (e) {
        reject(new Error(`${file}: unparseable summary line: ${String(e)}`));
      }
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

let status = 0;
try {
  console.log(`== base ${rev.slice(0, 10)} in ${tmp}`);
  execFileSync('git', ['worktree', 'add', '--detach', tmp, rev], { cwd: root, stdio: 'ignore' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: tmp, stdio: 'ignore' });
  const baseBenches = findBenches(tmp);
  for (const name of names) {
    const baseFile = baseBenches.get(baseName.get(name)!);
    if (baseFile === undefined) {
      console.log(`\n=== ${name}: no src/bench.ts at ${rev.slice(0, 10)}; skipped`);
      continue;
    }
    const runs: { base: Map<string, number>[]; head: Map<string, number>[] } = { base: [], head: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternate which tree goes first so neither always runs on a warmer (or busier) machine.
      const order = r % 2 === 0 ? (['base', 'head'] as const) : (['head', 'base'] as const);
      for (const side of order) {
        const t0 = Date.now();
        runs[side].push(await runBench(side === 'base' ? baseFile : headBenches.get(name)!));
        console.log(`  ${name} round ${r + 1}/${rounds} ${side}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
    console.log(`\n=== ${name}: median of ${rounds} rounds, base ${rev.slice(0, 10)} vs head (working tree)${passed.length > 0 ? `, args ${passed.join(' ')}` : ''}`);
    const keys = [...new Set([...runs.base.flatMap((m) => [...m.keys()]), ...runs.head.flatMap((m) => [...m.keys()])])];
    const table: Record<string, { base: number; head: number; ratio: number }> = {};
    for (const k of keys) {
      const b = runs.base.map((m) => m.get(k)).filter((x): x is number => x !== undefined);
      const h = runs.head.map((m) => m.get(k)).filter((x): x is number => x !== undefined);
      if (b.length === 0 || h.length === 0) continue;
      const bm = median(b);
      const hm = median(h);
      table[k] = { base: bm, head: hm, ratio: bm === 0 ? (hm === 0 ? 1 : Infinity) : hm / bm };
      console.log(`  ${k.padEnd(44)} ${String(+bm.toPrecision(6)).padStart(12)} ${String(+hm.toPrecision(6)).padStart(12)}  ×${table[k]!.ratio.toFixed(3)}`);
    }
    console.log(JSON.stringify({ bench: `compare-${name}`, base: rev, rounds, args: passed, fields: table }));
  }
} catch (e) {
  console.error(`Error: ${(e as Error).message}`);
  status = 1;
} finally {
  cleanup();
}
process.exit(status);
