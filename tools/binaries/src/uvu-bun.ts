/**
 * `bun uvu-bun.ts DIR PATTERN`: uvu's ESM runner under Bun. (uvu's bin.js probes for `import()`
 * support by the wording of a SyntaxError that Bun words differently, then falls back to its
 * CommonJS runner, which cannot load test files with a top-level await.)
 */
import { createRequire } from 'node:module';

const [dir = 'src', pattern = '.test.ts$'] = process.argv.slice(2);
const require = createRequire(`${process.cwd()}/`);
const { parse } = require('uvu/parse') as { parse(dir: string, pattern: string, opts: object): Promise<{ suites: unknown[] }> };
const { run } = (await import(require.resolve('uvu/run').replace(/index\.js$/, 'index.mjs'))) as { run(suites: unknown[], opts: object): Promise<void> };
const ctx = await parse(dir, pattern, { cwd: process.cwd() });
await run(ctx.suites, {});
