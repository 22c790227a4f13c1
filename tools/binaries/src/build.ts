/**
 * `npm run build:binaries`: writes `dist/weft` and `dist/weft-agent`, single executables made by
 * `bun build --compile` (Bun from npm; compiling for this machine needs no download). See
 * README.md for why Bun and not Node's single-executable applications or `deno compile`.
 *
 *   node --import tsx tools/binaries/src/build.ts [OUT_DIR]     (default: dist/ at the repository root)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');

/** The binaries, their entry modules, and whether Bun's bytecode cache is used (see compile.ts). */
export const BINARIES = [
  { name: 'weft', entry: path.join(here, 'weft.ts'), bytecode: true },
  { name: 'weft-agent', entry: path.join(here, 'agent.ts'), bytecode: false },
] as const;

/**
 * The Bun executable: `WEFT_BUN` if set (e.g. the baseline build, package
 * `@oven/bun-linux-x64-baseline`, for hosts without AVX2: a binary runs on the CPUs the Bun it was
 * compiled with runs on), else the one installed from npm (package `bun`, whose postinstall links
 * the platform build).
 */
export function bunPath(): string {
  const own = process.env.WEFT_BUN;
  if (own !== undefined && own !== '') {
    if (!fs.existsSync(own)) throw new Error(`WEFT_BUN=${own}: no such file; point it at a bun executable or unset it`);
    return own;
  }
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve('bun/package.json'));
  } catch {
    throw new Error('bun is not installed: run "npm install" at the repository root (tools/binaries lists bun as a devDependency)');
  }
  const exe = path.join(dir, 'bin', 'bun.exe');
  if (!fs.existsSync(exe) || fs.statSync(exe).size < 1_000_000) {
    throw new Error(`${exe} is the placeholder of the bun package, not Bun: its postinstall did not run (allowScripts in package.json must allow "bun"); run "npm rebuild bun"`);
  }
  return exe;
}

export interface Built {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly ms: number;
  /** Modules embedded as their own entry points (worker threads, cipher worker modules, scripts run as processes). */
  readonly entries: readonly string[];
}

/** Builds every binary into `outDir` (created if needed); throws with Bun's messages on failure. */
export function buildBinaries(outDir: string): Built[] {
  const bun = bunPath();
  fs.mkdirSync(outDir, { recursive: true });
  return BINARIES.map((b) => {
    const file = path.join(outDir, b.name);
    const t0 = performance.now();
    let out: string;
    try {
      out = execFileSync(bun, [path.join(here, 'compile.ts'), b.entry, file, REPO_ROOT, ...(b.bytecode ? ['--bytecode'] : [])], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`building ${b.name} failed: ${err.stderr?.trim() || err.message}`);
    }
    const info = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { entries?: string[] };
    return { name: b.name, file, bytes: fs.statSync(file).size, ms: performance.now() - t0, entries: info.entries ?? [] };
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'dist'));
  try {
    for (const b of buildBinaries(out)) {
      process.stdout.write(`${path.relative(process.cwd(), b.file) || b.file}  ${(b.bytes / 2 ** 20).toFixed(1)} MiB  (${(b.ms / 1000).toFixed(1)} s; embeds ${b.entries.join(', ')})\n`);
    }
  } catch (e) {
    process.stderr.write(`build:binaries: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
