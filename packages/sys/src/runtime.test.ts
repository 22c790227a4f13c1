/** openLibrary and the child-process commands, on whichever runtime runs the tests (Node, Deno, Bun). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evalCommand, openLibrary, runtimeName, runtimeVersion, scriptCommand } from './mod.ts';

const run = (argv: string[]): string => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('runtimeName and runtimeVersion name the runtime running this test', () => {
  const name = runtimeName();
  assert.ok(['node', 'deno', 'bun'].includes(name));
  assert.match(runtimeVersion(), new RegExp(`^${name} v?\\d+\\.\\d+\\.\\d+`));
});

test('openLibrary binds C functions; buffers (and subarrays) are passed in place', async () => {
  const c = await openLibrary(['libc.so.6'], {
    getpid: { args: [], result: 'i32' },
    memset: { args: ['buf', 'i32', 'u64'], result: 'void' },
    strlen: { args: ['buf'], result: 'i32' },
  });
  assert.is(c.getpid(), process.pid);
  const b = new Uint8Array(16);
  c.memset(b.subarray(4), 0x41, 3);
  assert.equal([...b.subarray(0, 8)], [0, 0, 0, 0, 0x41, 0x41, 0x41, 0]);
  assert.is(c.strlen(b.subarray(4)), 3);
});

test('openLibrary names every library it tried and why, when none loads', async () => {
  try {
    await openLibrary(['libweft-absent.so.9', 'libweft-absent.so'], { f: { args: [], result: 'void' } });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /cannot load libweft-absent\.so\.9 or libweft-absent\.so \(libweft-absent\.so\.9: .+; libweft-absent\.so: .+\)/);
  }
});

test('evalCommand runs CommonJS code as node -e does: require in scope, arguments from argv[1]', () => {
  const out = run(evalCommand("const fs = require('fs'); process.stdout.write(JSON.stringify([typeof fs.readFileSync, ...process.argv.slice(1)]))", ['a b', '-x']));
  assert.equal(JSON.parse(out), ['function', 'a b', '-x']);
});

test('scriptCommand runs a script file as node FILE does: arguments from argv[2]', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-sys-rt-'));
  try {
    const file = path.join(dir, 'echo.mjs');
    fs.writeFileSync(file, "import fs from 'node:fs'; process.stdout.write(JSON.stringify([typeof fs.statSync, ...process.argv.slice(2)]));\n");
    assert.equal(JSON.parse(run(scriptCommand(file, ['1', 'two']))), ['function', '1', 'two']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
