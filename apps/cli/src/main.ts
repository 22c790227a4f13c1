/**
 * `weft` entry: parse with the command table, run the handler, map failures to exit codes
 * (0 ok, 1 user or agent error with one line on stderr, 2 bad usage with the usage).
 * `main` takes its I/O as a parameter so tests drive it in-process.
 */
import type { Io } from './spec.ts';
import { UsageError, UserError } from './spec.ts';
import { TABLE } from './commands.ts';
import { parse } from './parse.ts';
import { helpFor, usageHint } from './help.ts';

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    const r = await parse(argv, TABLE, io.env);
    if (r.kind === 'help') {
      io.out(helpFor(TABLE, r.path));
      return 0;
    }
    return await r.parsed.cmd.run(r.parsed, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`Error: ${oneLine(e.message)}\n\n${usageHint(TABLE, e.path)}`);
      return e.flag ? 125 : 1;
    }
    if (e instanceof UserError && typeof (e as { status?: unknown }).status === 'number') {
      io.err(`Error: ${oneLine(e.message)}\n`);
      return (e as unknown as { status: number }).status;
    }
    if (e instanceof UserError || (e instanceof Error && e.name === 'ApiError')) {
      // The agent's errors may carry a hint (what to do); keep it on the same line.
      const hint = (e as { hint?: unknown }).hint;
      const extra = typeof hint === 'string' && hint !== '' && !e.message.includes(hint) ? ` (${oneLine(hint)})` : '';
      io.err(`Error: ${oneLine(e.message)}${extra}\n`);
      return 1;
    }
    io.err(`Error: ${oneLine(e instanceof Error ? e.message : String(e))} (unexpected; please report it with the command you ran)\n`);
    return 1;
  }
}

/** The real process: stdout/stderr, environment, child processes, files, terminal prompts. */
export function nodeIo(): Io {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    isRoot: process.getuid?.() === 0,
    async spawn(file, args, opts) {
      const { spawn } = await import('node:child_process');
      const { constants } = await import('node:os');
      return new Promise<number>((resolve, reject) => {
        const child = spawn(file, [...args], { stdio: [opts?.stdin === 'ignore' ? 'ignore' : 'inherit', 'inherit', 'inherit'] });
        // The terminal sends ^C to the child too; stay alive to report its exit status, and pass on SIGTERM/SIGHUP.
        const forward = (sig: NodeJS.Signals) => () => {
          if (sig !== 'SIGINT' && sig !== 'SIGQUIT') child.kill(sig);
        };
        const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP'];
        const handlers = sigs.map((s) => [s, forward(s)] as const);
        for (const [s, h] of handlers) process.on(s, h);
        const done = () => {
          for (const [s, h] of handlers) process.off(s, h);
        };
        child.on('error', (e: NodeJS.ErrnoException) => {
          done();
          reject(new UserError(e.code === 'ENOENT' ? `${file} not found: install it (iproute2 provides ip, util-linux provides nsenter)` : `cannot run ${file}: ${e.message}`));
        });
        child.on('exit', (code, signal) => {
          done();
          resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
        });
      });
    },
    async readFile(path) {
      const fs = await import('node:fs/promises');
      if (path === '-') {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      }
      return fs.readFile(path, 'utf8');
    },
    async confirm(question) {
      const readline = await import('node:readline/promises');
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/** Runs `weft` as this process (called by bin/weft.js, and by the single-file binary's entry). */
export async function cli(): Promise<void> {
  // `weft network ls | head -1`: a closed pipe ends the output, not in a stack trace.
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  process.exitCode = await main(process.argv.slice(2), nodeIo());
}

// Run directly (`deno run -A apps/cli/src/main.ts version`, `deno task cli`): Deno sets
// import.meta.main on the entry module. Node 20 leaves it undefined and starts through bin/weft.js.
if ((import.meta as { main?: boolean }).main === true) void cli();
