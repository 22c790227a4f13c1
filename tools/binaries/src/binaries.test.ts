/**
 * The single-file binaries: what they embed, how they stand in for node when the agent starts its
 * helper processes, the Sys and cipher suites on their runtime (Bun), and, as root, `npm run demo`
 * run with them on a "host" where they are the only Weft files: the repository (sources,
 * node_modules with Deno and Bun) is covered by an empty tmpfs and node by /dev/null, in a mount
 * namespace of their own (isolate.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tsFileCommand } from '@weft/testing';
import { bunPath, REPO_ROOT } from './build.ts';
import { isolatedPrefix } from './isolate.ts';
import { binaries, run } from './testutil.ts';

const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

test('the build writes two executables and embeds every module a thread or a child process loads', () => {
  const b = binaries();
  assert.equal(fs.readdirSync(b.dir).sort(), ['weft', 'weft-agent']);
  for (const f of [b.weft, b.agent]) assert.ok((fs.statSync(f).mode & 0o111) !== 0, `${f} is executable`);
  const agent = b.built.find((x) => x.name === 'weft-agent')!;
  for (const m of ['plugins/datapath/vxlan/src/worker.ts', 'plugins/datapath/sodium/src/worker.ts', 'plugins/datapath/aes-gcm/src/worker.ts', 'packages/sys/src/ns-listeners-worker.ts']) {
    assert.ok(agent.entries.includes(m), `weft-agent embeds ${m} (has ${agent.entries.join(', ')})`);
  }
});

test('weft version and weft-agent --help run from the binaries alone', async () => {
  const b = binaries();
  const v = await run([b.weft, '-H', 'unix:///nonexistent/weft-bin.sock', 'version']);
  assert.is(v.status, 0, v.err);
  assert.match(v.out, /Version:\s+0\.1\.0/);
  assert.match(v.out, /Runtime:\s+bun \d+\.\d+\.\d+/);
  assert.match(v.err, 'agent not reachable');
  const h = await run([b.agent, '--help']);
  assert.is(h.status, 0, h.err);
  assert.match(h.out, /^Usage: weft-agent \[OPTIONS\]/);
  const bad = await run([b.agent, '--data-path-port', 'x']);
  assert.is(bad.status, 2);
  assert.match(bad.err, /^weft-agent: .*data-path-port/);
});

test('weft-agent answers `-e CODE ARGS` as node does (the helper processes the agent starts)', async () => {
  const b = binaries();
  const e = await run([b.agent, '-e', "process.stdout.write(JSON.stringify([typeof require('node:fs').statSync, ...process.argv.slice(1)]))", 'a b', '--x']);
  assert.is(e.status, 0, e.err);
  assert.equal(JSON.parse(e.out), ['function', 'a b', '--x']);
});

test('docs/install/install.sh puts the binaries, the systemd unit and the defaults in place (DESTDIR), and keeps edited defaults', async () => {
  const b = binaries();
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-install-'));
  try {
    const script = path.join(REPO_ROOT, 'docs/install/install.sh');
    const env = { ...process.env, DESTDIR: dest };
    const r = await run(['sh', script, '--advertise-addr', '198.18.0.7', b.dir], { env });
    assert.is(r.status, 0, r.err);
    for (const f of ['usr/local/bin/weft', 'usr/local/bin/weft-agent']) assert.is(fs.statSync(path.join(dest, f)).mode & 0o777, 0o755, f);
    assert.is(fs.statSync(path.join(dest, 'var/lib/weft')).mode & 0o777, 0o700);
    const unit = fs.readFileSync(path.join(dest, 'etc/systemd/system/weft-agent.service'), 'utf8');
    assert.match(unit, 'ExecStart=/usr/local/bin/weft-agent --socket /run/weft/weft.sock --state-dir /var/lib/weft $WEFT_AGENT_OPTS');
    assert.match(unit, 'RuntimeDirectory=weft');
    assert.match(unit, 'StateDirectory=weft');
    const defaults = path.join(dest, 'etc/default/weft-agent');
    assert.match(fs.readFileSync(defaults, 'utf8'), 'WEFT_AGENT_OPTS="--advertise-addr 198.18.0.7"');
    // The installed agent runs, and its flags parse: what the unit's ExecStart runs.
    const h = await run([path.join(dest, 'usr/local/bin/weft-agent'), '--help']);
    assert.is(h.status, 0, h.err);
    // A second install keeps the operator's defaults.
    fs.writeFileSync(defaults, 'WEFT_AGENT_OPTS="--advertise-addr 198.18.0.9 --log-level debug"\n');
    assert.is((await run(['sh', script, b.dir], { env })).status, 0);
    assert.match(fs.readFileSync(defaults, 'utf8'), '--log-level debug');
    // Missing binaries: a clear error, nothing half-installed.
    const bad = await run(['sh', script, path.join(dest, 'nowhere')], { env: { ...process.env, DESTDIR: path.join(dest, 'second') } });
    assert.is(bad.status, 1);
    assert.match(bad.err, /nowhere\/weft not found or not executable; build it with 'npm run build:binaries'/);
    assert.not.ok(fs.existsSync(path.join(dest, 'second')));
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
});

test('the Sys, FFI and cipher suites pass on Bun, the runtime inside the binaries', async () => {
  const bun = bunPath();
  for (const dir of ['packages/sys', 'plugins/datapath/sodium']) {
    const r = await run([bun, path.join(REPO_ROOT, 'tools/binaries/src/uvu-bun.ts'), 'src', '.test.ts$'], { cwd: path.join(REPO_ROOT, dir), env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 300_000 });
    const passed = Number(/Passed:\s+(\d+)/.exec(r.out)?.[1] ?? 0);
    assert.is(r.status, 0, `${dir} under bun:\n${r.out.slice(-3000)}\n${r.err.slice(-2000)}`);
    assert.ok(passed >= 10, `${dir}: ${passed} tests passed under bun`);
  }
});

test('isolation: the repository and node cannot be reached from inside, the binaries still run', async () => {
  if (!isRoot || !has('unshare')) {
    console.log('  skipped: needs root and unshare (util-linux)');
    return;
  }
  const b = binaries();
  const node = execFileSync('sh', ['-c', 'command -v node || true'], { encoding: 'utf8' }).trim();
  const prefix = isolatedPrefix([REPO_ROOT], node === '' ? [] : [node]);
  const probe = await run([...prefix, 'sh', '-c', `ls -A ${REPO_ROOT} | wc -l; node --version >/dev/null 2>&1 && echo node-runs || echo node-blocked; ${b.weft} -H unix:///nonexistent.sock version 2>/dev/null | grep Runtime`]);
  assert.is(probe.status, 0, probe.err);
  const [files, nodeState, runtime] = probe.out.trim().split('\n').map((l) => l.trim());
  assert.is(files, '0', 'the repository folder is empty inside');
  assert.is(nodeState, 'node-blocked');
  assert.match(runtime ?? '', /^Runtime:\s+bun \d/);
  assert.ok(fs.existsSync(path.join(REPO_ROOT, 'package.json')), 'the host still sees the repository');
});

test('npm run demo with the binaries, where they are the only Weft files: three hosts, a swarm, an encrypted overlay, ping by name', async () => {
  if (!isRoot || !has('unshare')) {
    console.log('  skipped: needs root (network namespaces) and unshare');
    return;
  }
  const b = binaries();
  const node = execFileSync('sh', ['-c', 'command -v node || true'], { encoding: 'utf8' }).trim();
  const env = {
    ...process.env,
    NO_COLOR: '1',
    WEFT_AGENT_BIN: b.agent,
    WEFT_CLI_BIN: b.weft,
    WEFT_BIN_WRAPPER: JSON.stringify(isolatedPrefix([REPO_ROOT], node === '' ? [] : [node])),
  };
  const r = await run(tsFileCommand(path.join(REPO_ROOT, 'tools/demo/src/main.ts')), { env, cwd: REPO_ROOT, timeoutMs: 240_000 });
  assert.is(r.status, 0, `demo failed (exit ${r.status}):\n${r.out.slice(-4000)}\n${r.err.slice(-3000)}`);
  assert.match(r.out, `weft-agent: the single-file binary ${b.agent}`);
  assert.match(r.out, /ping -c 3 alpine2[\s\S]*3 received/);
  assert.match(r.out, 'every datagram is sealed');
  assert.match(r.out, 'nothing left behind');
});

test.run();
