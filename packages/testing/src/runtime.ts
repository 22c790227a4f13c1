/**
 * Child processes that run TypeScript on the runtime running the tests, so a test that starts
 * one passes under `npm test` (Node + tsx) and `test-deno` alike:
 * - Node 20: `node --import tsx …` (tsx resolves from the working directory's node_modules);
 * - Deno: `deno run --allow-all` / `deno eval --ext=ts` (all permissions: the child does what
 *   the test asks of it, as the Node child does).
 * Both put the script at `process.argv[1]` and its arguments after it.
 */

const isDeno = (): boolean => 'Deno' in globalThis;

/** argv that runs the TypeScript module `file` with `args` (`process.argv.slice(2)`). */
export function tsFileCommand(file: string, args: readonly string[] = []): string[] {
  if (isDeno()) return [process.execPath, 'run', '--allow-all', '--no-prompt', file, ...args];
  return [process.execPath, '--import', 'tsx', file, ...args];
}

/**
 * argv that runs `code`, an ES module in TypeScript (top-level await, imports of workspace
 * `.ts` files by absolute path), with `args` (`process.argv.slice(2)`).
 */
export function tsModuleCommand(code: string, args: readonly string[] = []): string[] {
  if (isDeno()) return [process.execPath, 'eval', '--ext=ts', code, ...args];
  // node -e puts its arguments at argv[1..]; insert a placeholder so they start at argv[2] as for a file.
  return [process.execPath, '--import', 'tsx', '--input-type=module', '-e', code, '[eval]', ...args];
}
