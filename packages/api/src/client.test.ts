import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createClient, ApiError, socketFromHost } from './mod.ts';

test('requests reach the socket; errors carry the agent message and status', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-api-'));
  const sock = path.join(dir, 's.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/networks/web') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'network "web" not found' }));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Id: 'abc', Warning: '' }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const c = createClient(sock);
    assert.equal(await c.networkCreate({ Name: 'web', Driver: 'overlay' }), { Id: 'abc', Warning: '' });
    await c.joinToken('worker', true);
    await c.sandboxRemove('a b', true);
    assert.equal(seen, ['POST /networks/create {"Name":"web","Driver":"overlay"}', 'GET /swarm/join-token?role=worker&rotate=1 ', 'DELETE /sandboxes/a%20b?force=1 ']);
    try {
      await c.network('web');
      assert.unreachable();
    } catch (e) {
      assert.instance(e, ApiError);
      assert.is((e as ApiError).status, 404);
      assert.is((e as ApiError).message, 'network "web" not found');
    }
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  try {
    await createClient(path.join(dir, 'gone.sock')).version();
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, 'Is weft-agent running?');
  }
  assert.is(socketFromHost('unix:///run/x.sock'), '/run/x.sock');
  assert.throws(() => socketFromHost('tcp://1.2.3.4:2375'), /unix:\/\//);
});

test.run();
