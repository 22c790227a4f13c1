/**
 * The metrics endpoint without a cluster: the format (promtool accepts it), hostile paths and
 * methods (404/405, never a crash), a busy or malformed --metrics-addr (a clear error at start).
 * Against real agents and a real Prometheus: observe.e2e.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { createKernel, silentLogger } from '@weft/kernel';
import { startMetrics } from './metrics.ts';
import { parseArgs } from './config.ts';

const get = async (url: string, method = 'GET') => {
  const r = await fetch(url, { method });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
};
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

test('GET /metrics: the text format through prom-client, accepted by promtool; other paths 404, other methods 405', async () => {
  const k = createKernel();
  let state = { writes: 7, bytes: 900, commits: 3, compactions: 0 };
  const m = await startMetrics({ host: '127.0.0.1', port: 0 }, k, silentLogger, { version: '9.9.9', node: 'n1' }, () => state);
  try {
    const base = `http://${m.address}`;
    const r = await get(`${base}/metrics`);
    assert.match(r.text, 'weft_state_writes_total 7');
    assert.match(r.text, 'weft_state_flushes_total 3');
    state = { writes: 9, bytes: 1200, commits: 4, compactions: 1 };
    assert.match((await get(`${base}/metrics`)).text, 'weft_state_journal_bytes_total 1200');
    assert.is(r.status, 200);
    assert.match(r.type, 'text/plain; version=0.0.4');
    assert.match(r.text, 'weft_agent_info{version="9.9.9",node="n1"} 1');
    assert.match(r.text, '# TYPE weft_agent_attach_duration_seconds histogram');
    assert.match(r.text, 'weft_agent_sandboxes 0');
    k.publish('engine.attach', { action: 'attach', sandbox: 'a', network: 'n', networkName: 'web', endpoint: 'e', address: '10.0.0.2/24', durationMs: 30 });
    await k.events.drain();
    assert.match((await get(`${base}/metrics`)).text, 'weft_agent_attach_duration_seconds_bucket{le="0.05",network="web"} 1');
    if (hasPromtool) {
      const out = spawnSync('promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
      assert.is(out.status, 0, `promtool check metrics: ${out.stdout}${out.stderr}`);
    } else console.log('  promtool not installed: format check skipped (apt-get install prometheus)');
    for (const p of ['/', '/metrics/../etc/passwd', '/%ff', '/metrics?x=1&', '/debug/pprof', `/${'a'.repeat(5000)}`]) {
      const x = await get(`${base}${p}`);
      assert.ok(x.status === 404 || (p.startsWith('/metrics?') && x.status === 200), `${p.slice(0, 30)}: ${x.status}`);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.is((await get(`${base}/metrics`, method)).status, 405, method);
    // Garbage that is not HTTP at all: the connection is dropped, the server goes on.
    await new Promise<void>((res) => {
      const s = net.connect(Number(m.address.split(':')[1]), '127.0.0.1', () => s.end('\x00\x01GARBAGE\r\n\r\n'));
      s.on('close', () => res());
      s.on('error', () => res());
    });
    assert.is((await get(`${base}/metrics`)).status, 200, 'still serving');
  } finally {
    await m.close();
  }
});

test('the Grafana dashboard (docs/grafana/weft-dashboard.json) names only series the agent serves', async () => {
  const dash = fs.readFileSync(new URL('../../../docs/grafana/weft-dashboard.json', import.meta.url), 'utf8');
  const k = createKernel();
  const m = await startMetrics({ host: '127.0.0.1', port: 0 }, k, silentLogger, { version: '', node: '' });
  try {
    const text = (await get(`http://${m.address}/metrics`)).text;
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]!));
    const used = new Set([...dash.matchAll(/\b(weft_[a-z0-9_]+)/g)].map((x) => x[1]!.replace(/_(bucket|sum|count)$/, '')));
    assert.ok(used.size > 20, `the dashboard uses ${used.size} families`);
    for (const f of used) assert.ok(families.has(f), `the dashboard's ${f} is served`);
  } finally {
    await m.close();
  }
});

test('--metrics-addr: off by default; malformed is a clear error; a port in use is a clear error at start', async () => {
  const ok = parseArgs([]);
  assert.ok('config' in ok && ok.config.metricsAddr === undefined, 'off by default');
  const on = parseArgs(['--metrics-addr', '127.0.0.1:9323']);
  assert.equal('config' in on ? on.config.metricsAddr : undefined, { host: '127.0.0.1', port: 9323 });
  for (const bad of ['9323', 'localhost:9323', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '300.1.1.1:9323', ':9323']) {
    const r = parseArgs(['--metrics-addr', bad]);
    assert.ok('error' in r && /invalid --metrics-addr/.test(r.error), `${bad}: ${JSON.stringify(r)}`);
  }
  const k = createKernel();
  const first = await startMetrics({ host: '127.0.0.1', port: 0 }, k, silentLogger, { version: '', node: '' });
  try {
    const port = Number(first.address.split(':')[1]);
    let msg = '';
    try {
      await startMetrics({ host: '127.0.0.1', port }, k, silentLogger, { version: '', node: '' });
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, `cannot serve metrics on --metrics-addr 127.0.0.1:${port}: the address is already in use`);
  } finally {
    await first.close();
  }
  void execFileSync;
});

test.run();
