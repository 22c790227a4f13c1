/** Test helpers: one build of the binaries per test process, and the commands of each runtime. */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { denoExecutable } from '@weft/testing/cluster';
import { buildBinaries, REPO_ROOT, type Built } from './build.ts';

export interface Binaries {
  /** A fresh folder holding nothing but the two binaries. */
  readonly dir: string;
  readonly weft: string;
  readonly agent: string;
  readonly built: readonly Built[];
}

let once: Binaries | undefined;

/** Builds weft and weft-agent into a temporary folder once per process (removed at exit). */
export function binaries(): Binaries {
  if (once !== undefined) return once;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-bin-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const built = buildBinaries(dir);
  once = { dir, weft: path.join(dir, 'weft'), agent: path.join(dir, 'weft-agent'), built };
  return once;
}

/** The node executable: this process under Node, else the one on PATH. */
export function nodePath(): string {
  if (!('Deno' in globalThis) && !('Bun' in globalThis)) return process.execPath;
  return execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
}

/** The Deno executable: this process under Deno, else the one npm installed (package `deno`). */
export const denoPath = denoExecutable;

/** argv prefixes that run the weft CLI: from source on Node and on Deno, and the binary. */
export function cliRunners(b: Binaries): Record<'node' | 'deno' | 'binary', string[]> {
  return {
    node: [nodePath(), path.join(REPO_ROOT, 'apps/cli/bin/weft.js')],
    deno: [denoPath(), 'run', '--allow-all', '--no-prompt', '--config', path.join(REPO_ROOT, 'deno.json'), path.join(REPO_ROOT, 'apps/cli/src/main.ts')],
    binary: [b.weft],
  };
}

export interface Ran {
  readonly status: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs argv to completion (never throws): exit status, stdout, stderr. Asynchronous, so that a
 * server in this process (a fake agent) can answer the child.
 */
export function run(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(argv[0] as string, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd ?? os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: -1, out, err: `${err}${String(e)}` });
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal !== null ? 128 : -1), out, err });
    });
  });
}
