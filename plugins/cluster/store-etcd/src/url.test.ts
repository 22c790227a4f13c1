/** Cluster-store URLs and options: what parses, and a clear BadRequest for each mistake; unreachable stores fail within the timeout. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterStoreCodes, isWeftError, type WeftError } from '@weft/kernel';
import { parseEtcdTarget } from './url.ts';
import { openEtcdStore, prefixRange } from './store.ts';

function refused(f: () => unknown): WeftError {
  try {
    f();
  } catch (e) {
    assert.ok(isWeftError(e) && e instanceof Error, `a WeftError that is an Error, not ${String(e)}`);
    return e as WeftError;
  }
  assert.unreachable('expected a refusal');
  throw new Error('unreachable');
}

async function failure(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isWeftError(e), `a WeftError, not ${String(e)}`);
    return e as WeftError;
  }
  assert.unreachable('expected a failure');
  throw new Error('unreachable');
}

test('etcd:// and etcds:// URLs: members, default port, IPv6, TLS from the scheme or the files', () => {
  const t = parseEtcdTarget({ url: 'etcd://198.18.0.1:2379,198.18.0.2:22379, etcd-3.example' });
  assert.equal(t.endpoints, ['198.18.0.1:2379', '198.18.0.2:22379', 'etcd-3.example:2379']);
  assert.equal([t.tls, t.display, t.timeoutMs], [false, 'etcd://198.18.0.1:2379,198.18.0.2:22379,etcd-3.example:2379', 5000]);
  assert.equal(parseEtcdTarget({ url: 'ETCDS://[::1]:2379/' }).endpoints, ['[::1]:2379']);
  assert.is(parseEtcdTarget({ url: 'etcds://h' }).tls, true);
  assert.equal(parseEtcdTarget({ url: 'etcd://h:1,h:1' }).endpoints, ['h:1'], 'a member named twice counts once');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-etcd-url-'));
  try {
    const pem = path.join(dir, 'ca.pem');
    fs.writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const withCa = parseEtcdTarget({ url: 'etcd://h:2379', ca: pem, timeoutMs: 1500 });
    assert.equal([withCa.tls, withCa.display, withCa.timeoutMs], [true, 'etcds://h:2379', 1500], 'a CA file means TLS');
    const notPem = path.join(dir, 'x.txt');
    fs.writeFileSync(notPem, 'hello');
    const cases: [string, Parameters<typeof parseEtcdTarget>[0], RegExp][] = [
      ['empty', { url: '' }, /empty/],
      ['no scheme', { url: '198.18.0.1:2379' }, /not an etcd URL/],
      ['another scheme', { url: 'http://h:2379' }, /scheme "http:\/\/"/],
      ['embedded', { url: 'embedded://' }, /scheme "embedded:\/\/"/],
      ['no members', { url: 'etcd://' }, /names no etcd member/],
      ['an empty member', { url: 'etcd://a:1,,b:2' }, /empty member/],
      ['a bad port', { url: 'etcd://h:99999' }, /port 99999/],
      ['a bad host', { url: 'etcd://h_x:1' }, /"h_x:1" .* is not HOST\[:PORT\]/],
      ['a path', { url: 'etcd://h:2379/weft' }, /has a path/],
      ['a query', { url: 'etcd://h:2379?x=1' }, /query/],
      ['credentials', { url: 'etcd://u:p@h:2379' }, /user credentials/],
      ['a cert without a key', { url: 'etcds://h', cert: pem }, /certificate without a key/],
      ['a missing CA file', { url: 'etcds://h', ca: path.join(dir, 'nope.pem') }, /Cannot use CA file .*nope\.pem.*ENOENT/],
      ['a CA file that is not PEM', { url: 'etcds://h', ca: notPem }, /not a PEM file/],
      ['a zero timeout', { url: 'etcd://h', timeoutMs: 0 }, /timeout/],
    ];
    for (const [label, o, re] of cases) {
      const e = refused(() => parseEtcdTarget(o));
      assert.is(e.category, 'BadRequest', label);
      assert.is(e.code, ClusterStoreCodes.badConfig, label);
      assert.is(e.plugin, 'store-etcd', label);
      assert.match(e.message, re, `${label}: ${e.message}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('prefix ranges are etcd\'s: the last byte below 0xff incremented, all keys for ""', () => {
  const r = (p: string) => {
    const { key, range_end } = prefixRange(p);
    return [key.toString('hex'), range_end.toString('hex')];
  };
  assert.equal(r(''), ['00', '00']);
  assert.equal(r('a/'), ['612f', '6130']);
  assert.equal(r('ÿ'), ['c3bf', 'c3c0'], 'by UTF-8 bytes');
  assert.equal(r('\u{10ffff}'), ['f48fbfbf', 'f48fbfc0']);
});

test('an unreachable store fails open() within the timeout with Unavailable naming it; so does an unresolvable name and a server that is not etcd', async () => {
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  // Something that accepts TCP and answers nonsense.
  const junk = net.createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => junk.listen(0, '127.0.0.1', () => r()));
  const junkPort = (junk.address() as net.AddressInfo).port;
  try {
    for (const url of [`etcd://127.0.0.1:${free}`, 'etcd://no-such-host.invalid:2379', `etcd://127.0.0.1:${junkPort}`, `etcd://127.0.0.1:${free},127.0.0.1:${junkPort}`]) {
      const t0 = Date.now();
      const e = await failure(openEtcdStore({ url, timeoutMs: 1000 }));
      const took = Date.now() - t0;
      console.log(`  ${url}: ${took} ms: ${e.message}`);
      assert.is(e.category, 'Unavailable', url);
      assert.is(e.code, ClusterStoreCodes.unavailable, url);
      assert.ok(e.message.includes(url), `${url}: the message names the store`);
      assert.match(e.hint ?? '', /etcdctl --endpoints/);
      assert.ok(took < 1000 + 1500, `${url}: failed within the timeout (${took} ms)`);
    }
  } finally {
    junk.close();
  }
});

test.run();
