import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WeftException } from '@weft/kernel';
import { tsModuleCommand } from '@weft/testing';
import { encodeRecord, fileStore, readStore, verifyStore, STORE_CORRUPT } from './mod.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-'));
const journals = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
const snapshots = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.snap')).sort();

async function corruptError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, WeftException);
    assert.is((e as WeftException).error.code, STORE_CORRUPT);
    return (e as WeftException).error.message;
  }
  assert.unreachable('must throw');
  return '';
}

test('put/get/delete/keys/scope round-trip, including awkward keys; the same after reopening', async () => {
  const dir = tmpdir();
  try {
    let s = fileStore(dir);
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
    // Prefix listings visit only the prefix's subtree and match what a full listing filters to.
    await s.put('endpoints/n1/e1', enc('6'));
    await s.put('endpoints/n1/e2', enc('7'));
    await s.put('endpoints/n10/e3', enc('8'));
    await s.put('endpoints//e4', enc('9'));
    const check = async () => {
      assert.equal(await s.keys('endpoints/n1/'), ['endpoints/n1/e1', 'endpoints/n1/e2']);
      assert.equal(await s.keys('endpoints/n1'), ['endpoints/n1/e1', 'endpoints/n1/e2', 'endpoints/n10/e3']);
      assert.equal(await s.keys('endpoints//'), ['endpoints//e4']);
      assert.equal(await s.keys('x:y/z.'), ['x:y/z.w']);
      assert.equal(await s.keys('nothing/here/'), []);
      for (const p of ['', 'a', 'a/', 'endpoints/', 'endpoints/n', 'ipam/pools/', 'endpoints/n10/e3', '.']) {
        assert.equal(await s.keys(p), (await s.keys()).filter((k) => k.startsWith(p)), `prefix "${p}"`);
      }
    };
    await check();
    assert.is(await s.delete('endpoints/n10/e3'), true);
    assert.equal(await s.keys('endpoints/n1'), ['endpoints/n1/e1', 'endpoints/n1/e2']);
    await s.put('endpoints/n10/e3', enc('8'));
    await s.close();
    s = fileStore(dir);
    await check();
    assert.is(dec(await s.get('a/b')), '22');
    assert.is(await s.get('a'), undefined);
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('group commit: concurrent writes share flushes, a lone writer flushes each write (figures printed)', async () => {
  const dir = tmpdir();
  try {
    const s = fileStore(dir);
    await s.put('warm', enc('x'));
    const base = s.stats();
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => s.put(`c/${i}`, enc('v'.repeat(300)))));
    const conc = s.stats();
    for (let i = 0; i < 50; i++) await s.put(`s/${i}`, enc('v'.repeat(300)));
    const seq = s.stats();
    console.log(`  ${n} concurrent puts: ${conc.commits - base.commits} flushes, ${((conc.bytes - base.bytes) / n).toFixed(0)} journal bytes each; 50 in a row: ${seq.commits - conc.commits} flushes`);
    assert.ok(conc.commits - base.commits < n / 4, `${n} concurrent puts took ${conc.commits - base.commits} flushes`);
    assert.is(seq.commits - conc.commits, 50, 'a write alone is flushed before it is acknowledged');
    assert.is(seq.writes - base.writes, n + 50);
    await s.close();
    const back = await readStore(dir);
    assert.is(back.size, 1 + n + 50);
    assert.is(dec(back.get('c/199')), 'v'.repeat(300));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('compaction: journals roll into a snapshot in the background; reads, writes and a reopen see one state', async () => {
  const dir = tmpdir();
  try {
    let s = fileStore(dir, { compactMinBytes: 64 << 10 });
    const want = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => {
        const k = `k/${i % 37}/${(round * 50 + i) % 101}`;
        const v = `${round}-${i}-${'z'.repeat(i * 20)}`;
        want.set(k, v);
        return s.put(k, enc(v));
      }));
      if (round % 3 === 0) {
        const k = [...want.keys()][round]!;
        want.delete(k);
        assert.is(await s.delete(k), true);
      }
    }
    const st = s.stats();
    assert.ok(st.compactions >= 1, `compactions ${st.compactions}`);
    await s.close();
    assert.is(journals(dir).length, 1, `one journal left: ${journals(dir).join(' ')}`);
    assert.is(snapshots(dir).length, 1, `one snapshot left: ${snapshots(dir).join(' ')}`);
    s = fileStore(dir);
    assert.equal(await s.keys(), [...want.keys()].sort());
    for (const [k, v] of want) assert.is(dec(await s.get(k)), v, k);
    await s.compact();
    assert.equal(await s.keys('k/1/'), [...want.keys()].filter((k) => k.startsWith('k/1/')).sort());
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged frame is an error naming the file and offset, never an empty value; a write cut short at the end is dropped', async () => {
  const dir = tmpdir();
  try {
    const s = fileStore(dir);
    await s.put('net/web', enc('{"subnet":"10.0.0.0/24"}'));
    await s.put('net/db', enc('{"subnet":"10.0.1.0/24"}'));
    await s.close();
    const j = path.join(dir, journals(dir)[0]!);
    const good = fs.readFileSync(j);
    // A flipped byte in the first of two frames: corrupt, with the file and offset named.
    const flipped = Buffer.from(good);
    flipped[20] = flipped[20]! ^ 0xff;
    fs.writeFileSync(j, flipped);
    let msg = await corruptError(fileStore(dir).get('net/web'));
    assert.match(msg, j);
    assert.match(msg, 'frame at byte 0');
    assert.match(msg, 'checksum');
    const v = await verifyStore(dir);
    assert.is(v.corrupt.length, 1);
    assert.ok(fs.existsSync(j), 'the damaged file is left for the operator');
    await fileStore(dir).close();
    // The last frame cut short: a write that was never acknowledged; the rest loads.
    fs.writeFileSync(j, good.subarray(0, good.length - 5));
    const cut = await verifyStore(dir);
    assert.is(cut.corrupt.length, 0);
    assert.ok(cut.dropped > 0, 'the cut frame is counted');
    const s2 = fileStore(dir);
    assert.is(dec(await s2.get('net/web')), '{"subnet":"10.0.0.0/24"}');
    assert.is(await s2.get('net/db'), undefined);
    await s2.close();
    // A snapshot is written whole before it is renamed into place: any damage in it is corruption.
    const snap = path.join(dir, snapshots(dir)[0]!);
    fs.writeFileSync(snap, fs.readFileSync(snap).subarray(0, 9));
    msg = await corruptError(fileStore(dir).get('net/web'));
    assert.match(msg, snap);
    assert.match(msg, 'truncated');
    await fileStore(dir).close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a state dir of the earlier one-file-per-key format is converted at open, its files removed', async () => {
  const dir = tmpdir();
  try {
    // As the earlier format wrote them: URI-encoded segments (dots too), `.v`, each a frame.
    const write = (rel: string, v: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), encodeRecord(enc(v)));
    };
    write('engine/sandboxes/web.v', '{"Name":"web"}');
    write('ipam/s/1/m.v', 'meta');
    write('x%3Ay/z%2Ew.v', 'odd');
    fs.writeFileSync(path.join(dir, 'ipam', 's', '1', 'c.v.tmp-0a1b2c'), 'half');
    const v = await verifyStore(dir);
    assert.equal([v.files, v.corrupt.length, v.removedTemp], [3, 0, 1]);
    const s = fileStore(dir);
    assert.equal(await s.keys(), ['engine/sandboxes/web', 'ipam/s/1/m', 'x:y/z.w']);
    assert.is(dec(await s.get('x:y/z.w')), 'odd');
    assert.equal(fs.readdirSync(dir).sort(), [...journals(dir), ...snapshots(dir)].sort(), 'only the journal and snapshot are left');
    await s.put('engine/sandboxes/db', enc('{"Name":"db"}'));
    await s.close();
    assert.equal([...(await readStore(dir, 'engine/')).keys()], ['engine/sandboxes/db', 'engine/sandboxes/web']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 during bursts of concurrent writes: every acknowledged write is there after a restart', async () => {
  const dir = tmpdir();
  const here = path.dirname(fileURLToPath(import.meta.url));
  // 16 writers on 40 keys (values grow per key); each acknowledgement is printed after its put resolved.
  const writer = `
    import { fileStore } from ${JSON.stringify(path.join(here, 'mod.ts'))};
    const s = fileStore(${JSON.stringify(dir)}, { compactMinBytes: 256 << 10 });
    let seq = 0;
    process.stdout.write('ready\\n');
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (;;) {
        const n = ++seq;
        const k = 'k/' + (n % 40);
        await s.put(k, new TextEncoder().encode(n + ':' + 'v'.repeat(200 + (n % 13) * 300)));
        if (n % 7 === 0) { await s.delete('d/' + (n % 5)); } else { await s.put('d/' + (n % 5), new TextEncoder().encode(String(n))); }
        process.stdout.write('ack ' + k + ' ' + n + '\\n');
      }
    }));
  `;
  const [cmd, ...args] = tsModuleCommand(writer);
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Map<string, number>();
  let count = 0;
  let buf = '';
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was killed`)));
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const m = /^ack (\S+) (\d+)$/.exec(l);
          if (m === null) continue;
          acked.set(m[1]!, Math.max(acked.get(m[1]!) ?? 0, Number(m[2])));
          // Killed in the middle of a burst, after a few compactions have run.
          if (++count === 3000) child.kill('SIGKILL');
        }
      });
    }).catch((e) => {
      if (child.signalCode !== 'SIGKILL') throw e;
    });
    const v = await verifyStore(dir);
    assert.is(v.corrupt.length, 0, v.corrupt.map((e) => e.message).join('\n'));
    const s = fileStore(dir);
    let newer = 0;
    for (const [k, n] of acked) {
      const got = dec(await s.get(k));
      assert.ok(got !== undefined, `${k} (acknowledged up to write ${n}) is missing`);
      const have = Number(got!.split(':')[0]);
      assert.ok(have >= n, `${k} holds write ${have}, older than the acknowledged ${n}`);
      assert.match(got!, /^\d+:v+$/);
      if (have > n) newer++;
    }
    console.log(`  killed after ${count} acknowledgements (${acked.size} keys); ${newer} keys hold a later, unacknowledged write; ${v.dropped} bytes of a cut write dropped; ${journals(dir).length} journal(s), ${snapshots(dir).length} snapshot(s) on disk`);
    await s.close();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
