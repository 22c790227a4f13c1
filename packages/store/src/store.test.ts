import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WeftException } from '@weft/kernel';
import { tsModuleCommand } from '@weft/testing';
import { fileStore, verifyStore, STORE_CORRUPT } from './mod.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-'));

test('put/get/delete/keys/scope round-trip, including awkward keys', async () => {
  const dir = tmpdir();
  try {
    const s = fileStore(dir);
    await s.put('a', enc('1'));
    await s.put('a/b', enc('2'));
    await s.put('../etc/passwd', enc('3'));
    await s.put('x:y/z.w', enc('4'));
    assert.is(dec(await s.get('a')), '1');
    assert.is(dec(await s.get('a/b')), '2');
    assert.is(dec(await s.get('../etc/passwd')), '3');
    assert.equal(await s.keys(), ['../etc/passwd', 'a', 'a/b', 'x:y/z.w']);
    assert.ok(!fs.existsSync(path.join(dir, '..', 'etc')), 'keys never escape the root');
    const sc = s.scope('ipam');
    await sc.put('pools/p1', enc('5'));
    assert.equal(await sc.keys('pools/'), ['pools/p1']);
    assert.is(dec(await s.get('ipam/pools/p1')), '5');
    assert.is(await s.delete('a'), true);
    assert.is(await s.delete('a'), false);
    assert.is(await s.get('a'), undefined);
    await s.put('a/b', enc('22'));
    assert.is(dec(await s.get('a/b')), '22');
    // Prefix listings walk only the prefix's directory and match what a full listing filters to.
    await s.put('endpoints/n1/e1', enc('6'));
    await s.put('endpoints/n1/e2', enc('7'));
    await s.put('endpoints/n10/e3', enc('8'));
    await s.put('endpoints//e4', enc('9'));
    assert.equal(await s.keys('endpoints/n1/'), ['endpoints/n1/e1', 'endpoints/n1/e2']);
    assert.equal(await s.keys('endpoints/n1'), ['endpoints/n1/e1', 'endpoints/n1/e2', 'endpoints/n10/e3']);
    assert.equal(await s.keys('endpoints//'), ['endpoints//e4']);
    assert.equal(await s.keys('x:y/z.'), ['x:y/z.w']);
    assert.equal(await s.keys('nothing/here/'), []);
    for (const p of ['', 'a', 'a/', 'endpoints/', 'endpoints/n', 'ipam/pools/']) {
      assert.equal(await s.keys(p), (await s.keys()).filter((k) => k.startsWith(p)), `prefix "${p}"`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt or truncated file is an error naming the file, never an empty value', async () => {
  const dir = tmpdir();
  try {
    const s = fileStore(dir);
    await s.put('net/web', enc('{"subnet":"10.0.0.0/24"}'));
    const file = path.join(dir, 'net', 'web.v');
    const buf = fs.readFileSync(file);
    buf[buf.length - 3] = buf[buf.length - 3]! ^ 0xff;
    fs.writeFileSync(file, buf);
    try {
      await s.get('net/web');
      assert.unreachable('must throw');
    } catch (e) {
      assert.instance(e, WeftException);
      const err = (e as WeftException).error;
      assert.is(err.code, STORE_CORRUPT);
      assert.match(err.message, file);
      assert.match(err.message, 'checksum');
    }
    fs.writeFileSync(file, buf.subarray(0, 10));
    const v = await verifyStore(dir);
    assert.is(v.corrupt.length, 1);
    assert.match(v.corrupt[0]!.message, 'truncated');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 during a stream of writes leaves every key old-or-new and valid', async () => {
  const dir = tmpdir();
  const here = path.dirname(fileURLToPath(import.meta.url));
  const writer = `
    import { fileStore } from ${JSON.stringify(path.join(here, 'mod.ts'))};
    const s = fileStore(${JSON.stringify(dir)});
    let i = 0;
    process.stdout.write('ready\\n');
    for (;;) { i++; await s.put('k' + (i % 5), new TextEncoder().encode('v'.repeat(1000 + (i % 7) * 3000) + i)); }
  `;
  const [cmd, ...args] = tsModuleCommand(writer);
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const v = await verifyStore(dir);
    assert.is(v.corrupt.length, 0, v.corrupt.map((e) => e.message).join('\n'));
    assert.ok(v.files >= 1 && v.files <= 5, `files ${v.files}`);
    const s = fileStore(dir);
    for (const k of await s.keys()) assert.match(dec(await s.get(k))!, /^v+\d+$/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
