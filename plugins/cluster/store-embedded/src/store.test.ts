import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open as openLmdb } from 'lmdb';
import { ClusterStoreCodes, isWeftError, type ClusterStore, type WatchEvent, type WeftError } from '@weft/kernel';
import { openEmbeddedStore } from './mod.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), `weft-store-embedded-${process.pid}-`));
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

async function rejected(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    if (isWeftError(e)) return e;
    throw new Error(`expected a WeftError, got ${String(e)}`);
  }
  throw new Error('expected a rejection');
}

/** A child process running crash-writer.ts on `db`; resolves once it has printed `acks` acknowledgements. */
function writer(db: string, workers: number): { child: ChildProcess; acked: Map<number, number>; ready: Promise<void>; count: () => number } {
  const script = path.join(here, 'crash-writer.ts');
  const args = isDeno ? ['run', '--allow-all', script, db, String(workers)] : ['--import', 'tsx', script, db, String(workers)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Map<number, number>();
  let n = 0;
  let buf = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === 'ready') resolve();
        const m = /^(\d+) (\d+)$/.exec(l);
        if (m !== null) {
          acked.set(Number(m[1]), Math.max(acked.get(Number(m[1])) ?? 0, Number(m[2])));
          n++;
        }
      }
    });
  });
  return { child, acked, ready, count: () => n };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

for (const [round, after] of [[1, 150], [2, 600], [3, 1500]] as const) {
  test(`kill -9 during a stream of concurrent transactions (round ${round}, after ${after} acks): every acknowledged revision is there, whole; the counter matches`, async () => {
    const dir = tmp();
    const db = path.join(dir, 'cluster-store');
    const workers = 8;
    const w = writer(db, workers);
    let store: ClusterStore | undefined;
    try {
      await w.ready;
      const deadline = Date.now() + 60_000;
      while (w.count() < after && Date.now() < deadline) await sleep(5);
      assert.ok(w.count() >= after, `the writer acknowledged ${w.count()} transactions`);
      await kill9(w.child);
      const acked = new Map(w.acked);

      store = await openEmbeddedStore({ path: db });
      const st = await store.status();
      const all = (await store.range('')).kvs;
      const byKey = new Map(all.map((kv) => [kv.key, kv]));
      let total = 0;
      let maxMod = 0;
      for (const kv of all) maxMod = Math.max(maxMod, kv.modRevision);
      for (let j = 0; j < workers; j++) {
        const last = byKey.get(`last/${j}`);
        const n = last === undefined ? 0 : Number(dec(last.value));
        assert.ok(n >= (acked.get(j) ?? 0), `worker ${j}: transaction ${acked.get(j)} was acknowledged, the store has up to ${n}`);
        if (last !== undefined) assert.is(last.version, n, `worker ${j}: last/${j} was written once per transaction`);
        for (let i = 1; i <= n; i++) {
          const parts = ['x', 'y', 'z'].map((p) => byKey.get(`t/${j}/${i}/${p}`));
          assert.ok(parts.every((kv) => kv !== undefined), `worker ${j} transaction ${i}: all three keys are there`);
          const revs = new Set(parts.map((kv) => kv!.modRevision));
          assert.is(revs.size, 1, `worker ${j} transaction ${i}: one revision`);
        }
        assert.is(byKey.get(`t/${j}/${n + 1}/x`), undefined, `worker ${j}: nothing of an uncommitted transaction`);
        total += n;
      }
      assert.is(all.length, total * 3 + acked.size - [...acked.keys()].filter((j) => !byKey.has(`last/${j}`)).length, 'no other keys');
      assert.is(st.revision, 1 + total, 'one revision per committed transaction, none lost or invented');
      assert.is(maxMod, st.revision, 'the revision counter matches the newest data');

      // The history is whole too: every revision replays with its four puts.
      const batches: [number, readonly WatchEvent[]][] = [];
      const watch = store.watch('', { fromRevision: 2, onEvents: (evs, rev) => batches.push([rev, evs]) });
      const until = Date.now() + 30_000;
      while (batches.length < total && Date.now() < until) await sleep(10);
      watch.close();
      assert.is(batches.length, total, 'every revision is in the history');
      batches.forEach(([rev, evs], i) => {
        assert.is(rev, i + 2);
        assert.equal(evs.map((e) => e.type), ['put', 'put', 'put', 'put']);
      });
      const next = await store.put('after', enc('1'));
      assert.is(next, st.revision + 1);
    } finally {
      await kill9(w.child);
      await store?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('one owner: a second open in this process or another is refused, naming the directory and the owner; a killed owner is taken over', async () => {
  const dir = tmp();
  const db = path.join(dir, 'cluster-store');
  const w = writer(db, 1);
  try {
    await w.ready;
    const e = await rejected(openEmbeddedStore({ path: db }));
    assert.is(e.code, ClusterStoreCodes.unavailable);
    assert.ok(e.message.includes(db), e.message);
    assert.ok(e.message.includes(`process ${w.child.pid}`), e.message);
    assert.ok(e.hint!.includes('--cluster-store'), e.hint);
    await kill9(w.child);
    const s = await openEmbeddedStore({ path: db });
    const again = await rejected(openEmbeddedStore({ path: db }));
    assert.ok(again.message.includes('this process'), again.message);
    await s.put('mine', enc('1'));
    await s.close();
    const s2 = await openEmbeddedStore({ path: db });
    assert.ok(await s2.get('mine'), 'a closed store can be opened again at once');
    await s2.close();
  } finally {
    await kill9(w.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged or foreign database is refused with its path, and never changed', async () => {
  const dir = tmp();
  try {
    const db = path.join(dir, 'cluster-store');
    fs.mkdirSync(db);
    const data = path.join(db, 'data.mdb');
    fs.writeFileSync(data, Buffer.alloc(64 * 1024, 0x5a));
    const before = sha(data);
    const e = await rejected(openEmbeddedStore({ path: db }));
    assert.ok(e.message.includes(db), e.message);
    assert.match(e.message, /not a readable LMDB database/);
    assert.match(e.hint ?? '', /not changed/);
    assert.is(sha(data), before, 'the file is untouched');

    // Damage LMDB itself would crash the process on: a truncated file, a zeroed meta page.
    const good = path.join(dir, 'good');
    const g = await openEmbeddedStore({ path: good });
    for (let i = 0; i < 300; i++) await g.put(`k/${i % 50}`, enc('v'.repeat(300)));
    await g.close();
    const whole = fs.readFileSync(path.join(good, 'data.mdb'));
    for (const [what, damaged] of [
      ['truncated', whole.subarray(0, Math.floor(whole.length / 2))],
      ['first meta page zeroed', Buffer.concat([Buffer.alloc(4096), whole.subarray(4096)])],
    ] as const) {
      fs.writeFileSync(data, damaged);
      const d = await rejected(openEmbeddedStore({ path: db }));
      assert.ok(d.message.includes(data), `${what}: ${d.message}`);
      assert.match(d.message, /LMDB cannot read|not a readable LMDB database/, what);
      assert.ok(sha(data) === createHash('sha256').update(damaged).digest('hex'), `${what}: untouched`);
    }

    fs.writeFileSync(data, '');
    assert.match((await rejected(openEmbeddedStore({ path: db }))).message, /data\.mdb is empty/);
    assert.is(fs.statSync(data).size, 0);
    fs.rmSync(data);
    assert.match((await rejected(openEmbeddedStore({ path: db }))).message, /data\.mdb is missing/);
    assert.ok(!fs.existsSync(data), 'no database was made in its place');

    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    assert.match((await rejected(openEmbeddedStore({ path: file }))).message, /not a directory/);

    // An LMDB database that is not ours.
    const foreign = path.join(dir, 'foreign');
    fs.mkdirSync(foreign);
    const env = openLmdb({ path: path.join(foreign, 'data.mdb') });
    await env.put('hello', 'world');
    await env.close();
    const fsha = sha(path.join(foreign, 'data.mdb'));
    assert.match((await rejected(openEmbeddedStore({ path: foreign }))).message, /no Weft format marker/);
    assert.is(sha(path.join(foreign, 'data.mdb')), fsha);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a database written by a newer Weft is refused, saying so, and left as it was', async () => {
  const dir = tmp();
  try {
    const db = path.join(dir, 'cluster-store');
    const s = await openEmbeddedStore({ path: db });
    await s.put('k', enc('v'));
    await s.close();
    const env = openLmdb({ path: path.join(db, 'data.mdb'), maxDbs: 8 });
    const meta = env.openDB({ name: 'meta', encoding: 'msgpack' });
    await meta.put('format', 2);
    await env.close();
    const before = sha(path.join(db, 'data.mdb'));
    const e = await rejected(openEmbeddedStore({ path: db }));
    assert.match(e.message, /format 2 by a newer Weft/);
    assert.ok(e.message.includes(db));
    assert.is(sha(path.join(db, 'data.mdb')), before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('leases across a reopen: one that expired while closed ends at open (with a revision); a live one gets its full TTL again', async () => {
  const dir = tmp();
  let t = 1_000_000;
  const now = () => t;
  try {
    const db = path.join(dir, 'cluster-store');
    let s = await openEmbeddedStore({ path: db, now, leaseCheckMs: 10 });
    const short = await s.grantLease(5);
    const long = await s.grantLease(60);
    await s.put('short', enc('1'), { lease: short });
    await s.put('long', enc('1'), { lease: long });
    const rev = (await s.status()).revision;
    await s.close();
    t += 50_000; // short (5 s) expired while closed; long has 10 s left
    s = await openEmbeddedStore({ path: db, now, leaseCheckMs: 10 });
    const deadline = Date.now() + 5000;
    while ((await s.get('short')) !== undefined && Date.now() < deadline) await sleep(10);
    assert.is(await s.get('short'), undefined, 'the expired lease ended at open');
    assert.is((await s.status()).revision, rev + 1, 'with a revision of its own');
    assert.is((await rejected(s.keepAlive(short))).code, ClusterStoreCodes.leaseNotFound);
    t += 30_000; // past the old expiry, within a fresh 60 s
    await sleep(50);
    assert.ok(await s.get('long'), 'the live lease got its full TTL again at open');
    t += 31_000;
    const d2 = Date.now() + 5000;
    while ((await s.get('long')) !== undefined && Date.now() < d2) await sleep(10);
    assert.is(await s.get('long'), undefined, 'and expires after it');
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('automatic compaction keeps the last historyRevisions revisions, so history stays bounded', async () => {
  const dir = tmp();
  try {
    const db = path.join(dir, 'cluster-store');
    const s = await openEmbeddedStore({ path: db, historyRevisions: 50 });
    for (let i = 0; i < 300; i++) await s.put(`k/${i % 10}`, enc(String(i)));
    await sleep(200); // the last automatic compaction runs after the write that triggered it
    const st = await s.status();
    assert.is(st.revision, 301);
    assert.ok(st.compactRevision > 0, 'it compacted');
    const kept = st.revision - st.compactRevision + 1;
    assert.ok(kept >= 50 && kept <= 55 + 1, `kept ${kept} revisions (50 asked, compacting in steps of 5)`);
    const env = openLmdb({ path: path.join(db, 'data.mdb'), maxDbs: 8, readOnly: true });
    await sleep(50);
    const log = env.openDB({ name: 'log', keyEncoding: 'binary', encoding: 'binary' });
    const entries = [...log.getKeys({})].length;
    await env.close();
    assert.ok(entries <= kept, `the log holds ${entries} entries`);
    assert.equal((await s.range('k/', { revision: st.compactRevision })).kvs.length, 10);
    const e = await rejected(s.range('', { revision: st.compactRevision - 1 }));
    assert.is(e.code, ClusterStoreCodes.compacted);
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input is refused with what was wrong, and writes nothing', async () => {
  const dir = tmp();
  try {
    const s = await openEmbeddedStore({ path: path.join(dir, 'cluster-store') });
    const base = (await s.status()).revision;
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['empty key', () => s.put('', enc('1')), /non-empty string/],
      ['long key', () => s.put('k'.repeat(3000), enc('1')), /at most \d+ bytes/],
      ['string value', () => s.put('k', 'v' as unknown as Uint8Array), /must be bytes/],
      ['unknown op', () => s.txn({ compare: [], success: [{ op: 'nope' } as never] }), /Unknown operation "nope"/],
      ['unknown target', () => s.txn({ compare: [{ key: 'k', target: 'size', result: '=', value: 1 } as never], success: [] }), /Unknown compare target "size"/],
      ['bad lease', () => s.put('k', enc('1'), { lease: -1 }), /lease ID/],
      ['bad ttl', () => s.grantLease(1.5), /whole number of seconds/],
      ['future compaction', () => s.compact(base + 5), /Cannot compact at revision/],
    ];
    for (const [what, call, msg] of cases) {
      const e = await rejected(call());
      assert.is(e.category, 'BadRequest', what);
      assert.match(e.message, msg, what);
    }
    assert.is((await s.status()).revision, base, 'nothing was written');
    assert.is((await s.range('')).kvs.length, 0);
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a watch whose onEvents throws ends with onError; others go on', async () => {
  const dir = tmp();
  try {
    const s = await openEmbeddedStore({ path: path.join(dir, 'cluster-store') });
    const errs: WeftError[] = [];
    let calls = 0;
    s.watch('', { onEvents: () => { calls++; throw new Error('boom'); }, onError: (e) => errs.push(e) });
    const seen: number[] = [];
    s.watch('', { onEvents: (_e, rev) => seen.push(rev) });
    await s.put('a', enc('1'));
    await s.put('b', enc('1'));
    await sleep(20);
    assert.is(calls, 1);
    assert.match(errs[0]!.message, /onEvents threw.*boom/);
    assert.is(seen.length, 2);
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
