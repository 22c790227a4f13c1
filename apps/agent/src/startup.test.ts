import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileStore } from '@weft/store';
import { createClient } from '@weft/api';
import { parseArgs, type AgentConfig } from './config.ts';
import { createLogger } from './log.ts';
import { plugins, startAgent, StartupError } from './agent.ts';

function config(dir: string): AgentConfig {
  const r = parseArgs(['--socket', path.join(dir, 'api.sock'), '--state-dir', path.join(dir, 'state'), '--docker-plugin', 'off', '--node-name', 't1']);
  if (!('ok' in r) || !r.ok) throw new Error('bad test config');
  return r.config;
}
const quiet = createLogger('error', 'text', () => {});

test('a damaged state file stops the agent at start, naming the file and what to do; never starts empty', async () => {
  for (const damage of ['flip', 'truncate'] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-start-'));
    try {
      const cfg = config(dir);
      const root = path.join(cfg.stateDir, 'state');
      const store = fileStore(root);
      await store.put('ipam/s/1/m', new TextEncoder().encode('{"pool":"10.0.0.0/24"}'));
      // flip: a byte of the journal's first write; truncate: the snapshot (written whole, then renamed) cut short.
      if (damage === 'truncate') await store.compact();
      await store.put('ipam/s/1/c/0', new TextEncoder().encode('{"used":1}'));
      await store.close();
      const file = path.join(root, fs.readdirSync(root).find((n) => n.endsWith(damage === 'flip' ? '.wal' : '.snap'))!);
      const buf = fs.readFileSync(file);
      if (damage === 'flip') buf[20] = buf[20]! ^ 0x55;
      fs.writeFileSync(file, damage === 'flip' ? buf : buf.subarray(0, 9));
      try {
        const a = await startAgent(cfg, quiet, []);
        await a.stop();
        assert.unreachable('the agent started over a damaged state file');
      } catch (e) {
        assert.instance(e, StartupError);
        assert.match((e as Error).message, 'refusing to start');
        assert.match((e as Error).message, file);
        assert.match((e as Error).message, damage === 'flip' ? 'checksum' : 'truncated');
        assert.match((e as Error).message, 'Restore them from a backup');
      }
      assert.ok(fs.existsSync(file), 'the damaged file is left for the operator, not deleted');
      assert.ok(!fs.existsSync(cfg.socket), 'no API was served');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a healthy state dir starts, serves the API on a 0660 socket, and stops cleanly', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-start-'));
  try {
    const cfg = config(dir);
    const a = await startAgent(cfg, quiet, []);
    try {
      assert.is(fs.statSync(cfg.socket).mode & 0o777, 0o660);
      assert.is((await createClient(cfg.socket).version()).Version, '0.1.0');
    } finally {
      await a.stop();
    }
    assert.ok(!fs.existsSync(cfg.socket), 'socket removed on stop');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the agent composes clusterStore.embedded over its state dir; stopping the agent closes the store', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-start-'));
  try {
    const cfg = config(dir);
    const entries = plugins(cfg).filter((e) => e.plugin.manifest.provides.includes('clusterStore.embedded'));
    assert.is(entries.length, 1, 'the agent lists the embedded cluster-store plugin');
    const a = await startAgent(cfg, quiet, entries);
    const backend = a.kernel.service('clusterStore.embedded');
    assert.ok(backend !== undefined, 'the service is there');
    const store = await backend.open({ url: 'embedded:' });
    assert.is((await store.status()).endpoint, path.join(cfg.stateDir, 'cluster-store'));
    await store.put('k', new TextEncoder().encode('v'));
    await a.stop();
    const b = await startAgent(cfg, quiet, entries);
    try {
      const again = await b.kernel.service('clusterStore.embedded')!.open({ url: 'embedded:' });
      assert.ok(await again.get('k'), 'the data is in the state dir, and the stopped agent released the store');
    } finally {
      await b.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed request paths are a 400, never a crash of the agent', async () => {
  const net = await import('node:net');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-start-'));
  try {
    const cfg = config(dir);
    const a = await startAgent(cfg, quiet, []);
    const raw = (req: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.createConnection(cfg.socket, () => sock.end(req));
        let out = '';
        sock.on('data', (d) => (out += d.toString()));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
    try {
      for (const p of ['//', '/networks/%E0', '/sandboxes/%']) {
        const r = await raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.match(r.split('\r\n')[0] ?? '', / 40\d /, `${p} → ${r.split('\r\n')[0]}`);
      }
      assert.is((await createClient(cfg.socket).version()).Version, '0.1.0', 'still serving');
    } finally {
      await a.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
