/**
 * The scaffold's output works outside this monorepo: a generated plugin is packed with `npm pack`
 * together with the @weft packages it needs, installed from those tarballs in a temporary folder
 * (public dependencies from npm's cache, `--prefer-offline`), and its conformance test passes there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaffold } from './scaffold.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** What a generated plugin needs at run and test time: @weft/testing depends on @weft/api and @weft/store (its cluster harness reads agents' state). */
const WEFT = ['@weft/kernel', '@weft/testing', '@weft/api', '@weft/net', '@weft/store'];

const run = (cwd: string, cmd: string, args: readonly string[], timeout = 120_000) => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed:\n${err.stdout ?? ''}\n${err.stderr ?? String(e)}`);
  }
};

const packed = (json: string) => (JSON.parse(json) as Array<{ name: string; filename: string }>).map((p) => ({ name: p.name, file: p.filename }));

test('a generated plugin, packed and installed outside the monorepo from tarballs, passes its conformance suite', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-scaffold-pack-'));
  try {
    assert.ok(path.relative(REPO, tmp).startsWith('..'), `${tmp} is outside the repository`);
    const r = scaffold({ name: 'packed-driver', kind: 'network', dir: tmp });
    assert.ok(r.ok, JSON.stringify(r));
    if (!r.ok) return;
    const pkg = JSON.parse(fs.readFileSync(path.join(r.dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    assert.not.match(pkg.scripts['test']!, '..', 'a stand-alone package points at nothing outside itself');
    assert.ok(pkg.devDependencies['tsx'] !== undefined && pkg.devDependencies['uvu'] !== undefined, 'it brings its own test runner');
    assert.not.match(fs.readFileSync(path.join(r.dir, 'tsconfig.json'), 'utf8'), 'extends');

    const tarballs = path.join(tmp, 'tarballs');
    fs.mkdirSync(tarballs);
    const weft = packed(run(REPO, 'npm', ['pack', '--json', '--pack-destination', tarballs, ...WEFT.flatMap((w) => ['-w', w])]));
    const plugin = packed(run(r.dir, 'npm', ['pack', '--json', '--pack-destination', tarballs]));
    const all = [...weft, ...plugin];
    assert.equal(all.map((p) => p.name).sort(), [...WEFT, '@weft/packed-driver'].sort());

    // A consumer folder: every @weft package comes from its tarball (overrides pin the ranges the
    // packages declare to the tarballs too, so nothing named @weft/* is fetched from a registry).
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    const file = (name: string) => `file:${path.join(tarballs, all.find((p) => p.name === name)!.file)}`;
    const deps = Object.fromEntries(all.map((p) => [p.name, file(p.name)]));
    const tools = { tsx: pkg.devDependencies['tsx']!, uvu: pkg.devDependencies['uvu']! };
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { ...deps, ...tools }, overrides: Object.fromEntries(WEFT.map((w) => [w, file(w)])), allowScripts: { esbuild: false } }, null, 2),
    );
    run(app, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']);
    const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; link?: boolean }> };
    for (const [where, p] of Object.entries(lock.packages)) {
      if (!where.includes('node_modules/@weft/')) continue;
      assert.ok(p.link !== true && (p.resolved ?? '').startsWith('file:'), `${where} installed from a tarball (resolved ${p.resolved})`);
    }

    // The consumer is a Node project (npm tarballs, tsx): under Deno too it runs on the node on PATH.
    const node = 'Deno' in globalThis ? 'node' : process.execPath;
    const out = run(app, node, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'node_modules/@weft/packed-driver/src', '.test.ts$']);
    const passed = Number(/Passed:\s+(\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''))?.[1] ?? 0);
    assert.ok(passed >= 5, `the NetworkDriver conformance suite ran and passed there:\n${out}`);
    assert.match(out, 'NetworkDriver conformance: packed-driver');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
