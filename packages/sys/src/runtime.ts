/**
 * Child processes that run JavaScript with the runtime this process runs on: Node, Deno, or the
 * single-file `weft-agent` (Bun), whose `process.execPath` is the binary itself and which answers
 * `-e CODE` and `SCRIPT` the way node does, for its own embedded scripts (tools/binaries).
 */

type Runtime = 'node' | 'deno' | 'bun';

/** The runtime of this process. */
export function runtimeName(): Runtime {
  if ('Deno' in globalThis) return 'deno';
  if ('Bun' in globalThis) return 'bun';
  return 'node';
}

/** `node v20.20.2`, `deno 2.9.6`, `bun 1.4.4`: for version output and logs. */
export function runtimeVersion(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
}

/**
 * argv that runs CommonJS `code` as `node -e CODE ARGS` does: `require` in scope and
 * `process.argv.slice(1)` equal to `args`. Under Deno this is `deno eval --ext=cjs` (all
 * permissions), whose argv has the eval file in slot 1: the code removes it first.
 */
export function evalCommand(code: string, args: readonly string[]): string[] {
  if (runtimeName() === 'deno') return [process.execPath, 'eval', '--ext=cjs', `process.argv.splice(1, 1); ${code}`, ...args];
  return [process.execPath, '-e', code, ...args];
}

/** argv that runs the script file `file` as `node FILE ARGS` does (`process.argv.slice(2)` equal to `args`). */
export function scriptCommand(file: string, args: readonly string[]): string[] {
  if (runtimeName() === 'deno') return [process.execPath, 'run', '--allow-all', '--no-prompt', file, ...args];
  return [process.execPath, file, ...args];
}

/**
 * How to start a worker thread on module `entry` (a TypeScript file) on this runtime: Deno and
 * Bun (the single-file agent) run TypeScript workers natively; Node 20 runs TypeScript through
 * tsx, whose loader hooks do not reach workers, so the worker registers them itself first.
 * The caller names `entry` as `new URL('./x.ts', import.meta.url)`, which the binary build embeds.
 */
export function workerSource(entry: URL): { readonly code: string; readonly eval: true } | { readonly url: URL } {
  if (runtimeName() !== 'node') return { url: entry };
  try {
    const tsx = import.meta.resolve('tsx/esm/api');
    return {
      code: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); }).catch((e) => { console.error(e); process.exit(70); });`,
      eval: true,
    };
  } catch {
    return { url: entry };
  }
}
