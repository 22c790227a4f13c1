/**
 * Entry of the single-file `weft-agent` (bun build --compile, see compile.ts).
 *
 * The agent starts helper processes as `process.execPath SCRIPT ARGS` or `process.execPath -e
 * CODE ARGS`, as it would with `node` (the DNS bridge of the Docker plugin, the published-port
 * forwarder). In the binary `process.execPath` is the binary itself, so it answers those two
 * forms the way node does, for its own embedded scripts only; anything else is the agent.
 */
import { createRequire } from 'node:module';

const EMBEDDED = '/$bunfs/';
const [, , first, ...rest] = process.argv;

if (first === '-e' && rest.length > 0) {
  // node -e CODE ARGS: process.argv is [execPath, ...ARGS], CommonJS `require` is in scope.
  const [code, ...args] = rest as [string, ...string[]];
  process.argv = [process.execPath, ...args];
  const require = createRequire(`${process.cwd()}/`);
  new Function('require', code)(require);
} else if (first !== undefined && first.startsWith(EMBEDDED)) {
  // node SCRIPT ARGS for a script embedded in this binary: process.argv is [execPath, SCRIPT, ...ARGS].
  process.argv = [process.execPath, first, ...rest];
  await import(first);
} else {
  await import('../../../apps/agent/src/main.ts');
}
