/** The checker on small fixture trees: each rule is caught, and what the rules allow is not. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { check, isRuntimeFile, key } from './boundaries.ts';

type Files = Record<string, string>;

function tree(files: Files): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-boundaries-'));
  const all: Files = { 'package.json': JSON.stringify({ name: 'fixture', private: true, workspaces: ['packages/*', 'plugins/*/*'] }), ...files };
  for (const [f, text] of Object.entries(all)) {
    fs.mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

const SCRIPTS = { test: 'uvu', 'test-deno': 'deno run npm:uvu', typecheck: 'tsc', 'typecheck-deno': 'deno check src' };
const pkg = (name: string, deps: Record<string, string> = {}, dev: Record<string, string> = {}, scripts: Record<string, string> = SCRIPTS) =>
  JSON.stringify({ name, type: 'module', exports: { '.': './src/mod.ts', './extra': './src/extra.ts' }, scripts, dependencies: deps, devDependencies: dev });

async function run(files: Files): Promise<string[]> {
  const root = tree(files);
  try {
    return (await check(root)).map(key);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

test('a plugin importing another plugin, by package name or relative path, is caught; tests, helpers and dev deps are not', async () => {
  const keys = await run({
    'packages/kernel/package.json': pkg('@weft/kernel'),
    'packages/kernel/src/mod.ts': 'export const k = 1;\n',
    'plugins/drivers/one/package.json': pkg('@weft/one', { '@weft/kernel': '*', '@weft/two': '*' }, { '@weft/two': '*' }),
    'plugins/drivers/one/src/mod.ts': "import { k } from '@weft/kernel';\nimport { two } from '@weft/two';\nexport const one = k + two;\n",
    'plugins/drivers/one/src/deep.ts': "import type { Extra } from '@weft/two/extra';\nexport type X = Extra;\n",
    'plugins/drivers/one/src/rel.ts': "export { two } from '../../../datapath/two/src/mod.ts';\n",
    'plugins/drivers/one/src/lazy.ts': "export const load = () => import('@weft/two');\n",
    // Text that looks like an import inside a template literal or a comment is not one.
    'plugins/drivers/one/src/template.ts': "// import { two } from '@weft/two';\nexport const t = `import { two } from '@weft/two';\\n`;\n",
    'plugins/drivers/one/src/mod.test.ts': "import { two } from '@weft/two';\nexport const t = two;\n",
    'plugins/drivers/one/src/testutil.ts': "import { two } from '@weft/two';\nexport const t = two;\n",
    'plugins/drivers/one/src/_fakes.ts': "import { two } from '@weft/two';\nexport const t = two;\n",
    'plugins/drivers/one/src/bench.ts': "import { two } from '@weft/two';\nexport const t = two;\n",
    'plugins/datapath/two/package.json': pkg('@weft/two', { '@weft/kernel': '*' }),
    'plugins/datapath/two/src/mod.ts': 'export const two = 2;\n',
    'plugins/datapath/two/src/extra.ts': 'export interface Extra { readonly a: number }\n',
  });
  assert.equal(keys, [
    'plugin-dependency: plugins/drivers/one/package.json -> @weft/two',
    'plugin-import: plugins/drivers/one/src/deep.ts -> @weft/two/extra',
    'plugin-import: plugins/drivers/one/src/lazy.ts -> @weft/two',
    'plugin-import: plugins/drivers/one/src/mod.ts -> @weft/two',
    'plugin-import: plugins/drivers/one/src/rel.ts -> ../../../datapath/two/src/mod.ts',
  ]);
});

test('import cycles are caught with their path, type-only imports included; a DAG is not', async () => {
  const root = tree({
    'packages/lib/package.json': pkg('@weft/lib'),
    'packages/lib/src/mod.ts': "export { a } from './a.ts';\nexport { c } from './c.ts';\nexport type { T } from './types.ts';\n",
    // a -> b -> a, where b's import is type-only.
    'packages/lib/src/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
    'packages/lib/src/b.ts': "import type { A } from './a.ts';\nexport const b = 1;\nexport type B = A;\n",
    // c -> d -> e -> c, closed through the package's own entry point (@weft/lib).
    'packages/lib/src/c.ts': "import { d } from './d.ts';\nexport const c = d;\n",
    'packages/lib/src/d.ts': "import { e } from './e.ts';\nexport const d = e;\n",
    'packages/lib/src/e.ts': "import { type T } from '@weft/lib';\nexport const e: T = 1;\n",
    'packages/lib/src/types.ts': 'export type T = number;\n',
    // A diamond is not a cycle.
    'packages/lib/src/top.ts': "import './left.ts';\nimport './right.ts';\n",
    'packages/lib/src/left.ts': "import './bottom.ts';\n",
    'packages/lib/src/right.ts': "import './bottom.ts';\n",
    'packages/lib/src/bottom.ts': 'export {};\n',
  });
  try {
    const vs = (await check(root)).filter((v) => v.rule === 'cycle');
    assert.equal(vs.map(key), [
      'cycle: packages/lib/src/a.ts -> packages/lib/src/b.ts -> packages/lib/src/a.ts',
      'cycle: packages/lib/src/c.ts -> packages/lib/src/d.ts -> packages/lib/src/e.ts -> packages/lib/src/mod.ts -> packages/lib/src/c.ts',
    ]);
    assert.match(vs[0]!.message, 'packages/lib/src/b.ts imports "./a.ts"');
    assert.match(vs[1]!.message, 'packages/lib/src/e.ts imports "@weft/lib"');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('export * is caught in any file; export * as ns and explicit re-exports are not', async () => {
  const keys = await run({
    'packages/lib/package.json': pkg('@weft/lib'),
    'packages/lib/src/mod.ts': "export * from './a.ts';\nexport * as bee from './b.ts';\nexport { c, type C } from './c.ts';\n",
    'packages/lib/src/a.ts': 'export const a = 1;\n',
    'packages/lib/src/b.ts': 'export const b = 1;\n',
    'packages/lib/src/c.ts': "export type * from './d.ts';\nexport const c = 1;\nexport type C = number;\n",
    'packages/lib/src/d.ts': 'export type D = number;\n',
  });
  assert.equal(keys, ['export-star: packages/lib/src/c.ts -> ./d.ts', 'export-star: packages/lib/src/mod.ts -> ./a.ts']);
});

test('an import that names no file is reported', async () => {
  const keys = await run({
    'packages/lib/package.json': pkg('@weft/lib'),
    'packages/lib/src/mod.ts': "import './missing.ts';\nimport '@weft/lib/nope';\nimport 'fp-ts/lib/Either.js';\nimport 'node:fs';\n",
  });
  assert.equal(keys, ['unresolved: packages/lib/src/mod.ts -> ./missing.ts', 'unresolved: packages/lib/src/mod.ts -> @weft/lib/nope']);
});

test('runtime files: everything under src/ but tests, their helpers and benchmarks', () => {
  for (const f of ['src/mod.ts', 'src/worker.ts', 'src/swim/state.ts', 'src/testing.ts']) assert.ok(isRuntimeFile(f), f);
  for (const f of ['src/a.test.ts', 'src/testutil.ts', 'src/_fakes.ts', 'src/bench.ts', 'src/testdata/x.ts', 'scripts/x.ts']) assert.not.ok(isRuntimeFile(f), f);
});

test('a package without a Node or Deno typecheck, or with tests but no Node or Deno test target, is caught, naming the script', async () => {
  const { 'test-deno': _td, 'typecheck-deno': _tcd, ...nodeOnly } = SCRIPTS;
  const { test: _t, 'test-deno': _td2, ...typecheckOnly } = SCRIPTS;
  const keys = await run({
    'packages/kernel/package.json': pkg('@weft/kernel'),
    'packages/kernel/src/mod.ts': 'export const k = 1;\n',
    'packages/kernel/src/mod.test.ts': "import { k } from './mod.ts';\nexport const t = k;\n",
    'plugins/drivers/one/package.json': pkg('@weft/one', { '@weft/kernel': '*' }, {}, nodeOnly),
    'plugins/drivers/one/src/mod.ts': "import { k } from '@weft/kernel';\nexport const one = k;\n",
    'plugins/drivers/one/src/mod.test.ts': "import { one } from './mod.ts';\nexport const t = one;\n",
    // No tests: typecheck targets are enough.
    'plugins/drivers/two/package.json': pkg('@weft/two', {}, {}, typecheckOnly),
    'plugins/drivers/two/src/mod.ts': 'export const two = 2;\n',
    'plugins/drivers/three/package.json': pkg('@weft/three', {}, {}, typecheckOnly),
    'plugins/drivers/three/src/mod.ts': 'export const three = 3;\n',
    'plugins/drivers/three/src/mod.test.ts': "import { three } from './mod.ts';\nexport const t = three;\n",
  });
  assert.equal(keys, [
    'targets: plugins/drivers/one/package.json -> test-deno',
    'targets: plugins/drivers/one/package.json -> typecheck-deno',
    'targets: plugins/drivers/three/package.json -> test',
    'targets: plugins/drivers/three/package.json -> test-deno',
  ]);
});

test.run();
