/**
 * `testClusterStore`: the conformance suite of the kernel's `ClusterStore` contract
 * (contracts/cluster-store.ts), which every backend — the kernel's memoryClusterStore, the
 * embedded (LMDB) store, the etcd store, a third party's — must pass.
 *
 * It checks etcd v3's semantics as the contract states them: revisions (one per write, none for a
 * read or a failed compare), createRevision/modRevision/version, compares on every target with
 * etcd's rule for missing keys, atomic and serializable transactions under concurrency, etcd's one-write-per-key rule in a branch, watches
 * (one batch per revision, in order, replay then live, resumption without gaps or duplicates,
 * compacted starts), leases (expiry, keepAlive, revoke, unknown leases), close, and — given
 * `reopen` — durability of data, revisions, history and leases.
 *
 * Waiting for something that must happen (a lease to expire, a watch to deliver) polls with a
 * generous deadline; nothing asserts how fast anything is.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterStoreCodes, isWeftError, WeftException } from '@weft/kernel';
import type { ClusterStore, Compare, KeyValue, TxnOp, WatchEvent, Watcher, WeftError } from '@weft/kernel';

export interface ClusterStoreSuiteOptions {
  /** A fresh, empty store for each test. The suite closes it after the test. */
  readonly create: () => ClusterStore | Promise<ClusterStore>;
  /**
   * A new instance over the same backing as the last `create()` (a restart), called after the
   * suite closed that one. When given, the suite checks that data, revisions, history and leases
   * survive.
   */
  readonly reopen?: () => ClusterStore | Promise<ClusterStore>;
  /** Undo what `create` made (e.g. remove its directory), after each test and after the store is closed. */
  readonly cleanup?: () => void | Promise<void>;
  /** The TTL of the short leases the suite lets expire (default 1; etcd rounds small TTLs up, so give it what it honours). */
  readonly leaseTtlSeconds?: number;
  /** A backend over a network or a slow disk: every deadline is 4× longer. */
  readonly slow?: boolean;
}

const te = new TextEncoder();
const td = new TextDecoder();
const enc = (s: string) => te.encode(s);
const dec = (b: Uint8Array) => td.decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** etcd orders keys by their bytes: UTF-8, i.e. by code point (not JavaScript's UTF-16 order). */
function compareKeyBytes(a: string, b: string): number {
  const x = te.encode(a);
  const y = te.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function asWeftError(e: unknown): WeftError {
  if (e instanceof WeftException) return e.error;
  if (isWeftError(e)) return e;
  assert.unreachable(`expected a WeftError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  throw e;
}

/** The WeftError a promise rejects with (a WeftError value or a WeftException); fails if it resolves. */
async function rejection(p: Promise<unknown>, what: string): Promise<WeftError> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    return asWeftError(e);
  }
  assert.unreachable(`${what}: expected a rejection, got ${JSON.stringify(value)}`);
  throw new Error('unreachable');
}

interface Batch {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

interface Collector {
  readonly batches: Batch[];
  readonly errors: WeftError[];
  readonly watcher: Watcher;
  /** Set once close() was called; a batch after it fails the test. */
  closed: boolean;
  close(): void;
}

const describe = (b: Batch) => `${b.revision}:${b.events.map((e) => `${e.type} ${e.kv.key}`).join(',')}`;

export function testClusterStore(name: string, opts: ClusterStoreSuiteOptions): void {
  const inner = suite(`ClusterStore conformance: ${name}`);
  const factor = opts.slow === true ? 4 : 1;
  const ttl = opts.leaseTtlSeconds ?? 1;
  let store: ClusterStore;
  // Each test creates its store and closes and cleans it up itself, not in uvu hooks: uvu stops
  // silently, exiting 0, when an after-hook throws or a test throws something that is not an
  // Error (a plain WeftError object, as a backend may reject with).
  const s = (title: string, fn: () => Promise<void>) =>
    inner(title, async () => {
      let failed: unknown;
      let opened = false;
      try {
        store = await opts.create();
        opened = true;
        await fn();
      } catch (e) {
        failed = e;
      }
      try {
        if (opened) await store.close();
        await opts.cleanup?.();
      } catch (e) {
        failed ??= e;
      }
      if (failed === undefined) return;
      if (failed instanceof Error) throw failed;
      throw new Error(`threw a non-Error: ${isWeftError(failed) ? `${failed.code}: ${failed.message}` : JSON.stringify(failed)}`);
    });

  const revisionNow = async () => (await store.status()).revision;

  /** Polls `cond` until it holds; fails after `ms` (× the slow factor) naming `what`. */
  async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms * factor;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  function collect(st: ClusterStore, prefix: string, fromRevision?: number, onBatch?: (b: Batch, c: Collector) => void): Collector {
    const c: Collector = {
      batches: [],
      errors: [],
      closed: false,
      watcher: undefined as unknown as Watcher,
      close() {
        c.closed = true;
        c.watcher.close();
      },
    };
    (c as { watcher: Watcher }).watcher = st.watch(prefix, {
      ...(fromRevision !== undefined ? { fromRevision } : {}),
      onEvents: (events, revision) => {
        if (c.closed) assert.unreachable(`watch on "${prefix}" delivered revision ${revision} after close()`);
        const b = { revision, events };
        c.batches.push(b);
        onBatch?.(b, c);
      },
      onError: (e) => c.errors.push(e),
    });
    return c;
  }
  const revisionsOf = (c: Collector) => c.batches.map((b) => b.revision);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  const put = (key: string, value: string, lease?: number): TxnOp => (lease !== undefined ? { op: 'put', key, value: enc(value), lease } : { op: 'put', key, value: enc(value) });

  // ---------------------------------------------------------------- KV

  s('a fresh store is empty, at a revision ≥ 1, and says what it is', async () => {
    const st = await store.status();
    assert.ok(Number.isInteger(st.revision) && st.revision >= 1, `revision ${st.revision} is an integer ≥ 1`);
    assert.ok(st.compactRevision <= st.revision, 'compactRevision ≤ revision');
    assert.type(st.backend, 'string');
    assert.ok(st.backend.length > 0 && st.endpoint.length > 0, 'backend and endpoint are named');
    assert.is(await store.get('missing'), undefined);
    const r = await store.range('');
    assert.equal(r.kvs, []);
    assert.is(r.more, false);
    assert.is(r.revision, st.revision);
  });

  s('put, get, delete: revisions, createRevision, modRevision and version; delete then recreate starts over', async () => {
    const base = await revisionNow();
    const r1 = await store.put('k', enc('one'));
    assert.is(r1, base + 1, 'a put takes the next revision');
    let kv = (await store.get('k'))!;
    assert.equal(
      { key: kv.key, value: dec(kv.value), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease },
      { key: 'k', value: 'one', createRevision: r1, modRevision: r1, version: 1, lease: 0 },
    );
    const r2 = await store.put('k', enc('two'));
    assert.is(r2, r1 + 1);
    kv = (await store.get('k'))!;
    assert.equal([dec(kv.value), kv.createRevision, kv.modRevision, kv.version], ['two', r1, r2, 2]);
    const r3 = await store.put('k', enc('two'));
    assert.is(r3, r2 + 1, 'putting the same value again is still a write');
    assert.equal([(await store.get('k'))!.version, (await store.get('k'))!.modRevision], [3, r3]);

    assert.is(await store.delete('k'), 1);
    assert.is(await revisionNow(), r3 + 1, 'a delete takes the next revision');
    assert.is(await store.get('k'), undefined);
    assert.is(await store.delete('k'), 0, 'deleting a missing key deletes nothing');
    assert.is(await revisionNow(), r3 + 1, '... and writes no revision');

    const r5 = await store.put('k', enc('three'));
    assert.is(r5, r3 + 2);
    kv = (await store.get('k'))!;
    assert.equal([dec(kv.value), kv.createRevision, kv.modRevision, kv.version], ['three', r5, r5, 1], 'a recreated key starts a new life: createRevision = its put, version 1');
    assert.is((await store.status()).revision, r5);
  });

  s('values are bytes, kept whole, and snapshots (changing a buffer after put or after get changes nothing)', async () => {
    await store.put('empty', new Uint8Array(0));
    const e = await store.get('empty');
    assert.ok(e !== undefined && e.value.length === 0, 'an empty value is a value, not a missing key');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await store.put('bytes', all);
    assert.equal([...(await store.get('bytes'))!.value], [...all], 'every byte value round-trips');
    const big = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 255);
    await store.put('big', big);
    assert.equal([...(await store.get('big'))!.value], [...big], 'a 64 KiB value round-trips');
    const v = enc('abc');
    await store.put('snap', v);
    v[0] = 0x7a;
    assert.is(dec((await store.get('snap'))!.value), 'abc');
    const got = (await store.get('snap'))!;
    got.value[0] = 0x7a;
    assert.is(dec((await store.get('snap'))!.value), 'abc');
    const viaRange = (await store.range('snap')).kvs[0]!;
    viaRange.value[1] = 0x7a;
    assert.is(dec((await store.get('snap'))!.value), 'abc');
  });

  s('range: a plain string prefix, sorted by key bytes, limit with more', async () => {
    const keys = ['b', 'a/b', 'a', 'n/1/e2', 'n/1/e1', 'n/10/e3', 'A', 'a-b', 'a.b', 'a0', 'x y', 'ü', '\uff61', '\u{1f600}', 'tab\tkey', '../up', 'trailing/'];
    for (const k of keys) await store.put(k, enc(k));
    const sorted = [...keys].sort(compareKeyBytes);
    const all = await store.range('');
    assert.equal(
      all.kvs.map((kv) => kv.key),
      sorted,
      'sorted by UTF-8 bytes (etcd\'s order: "\\uff61" before "\\u{1f600}", unlike JavaScript\'s < on UTF-16)',
    );
    for (const kv of all.kvs) assert.is(dec(kv.value), kv.key, `key ${JSON.stringify(kv.key)} round-trips`);
    assert.is(all.more, false);
    assert.is(all.revision, await revisionNow());
    assert.equal((await store.range('n/1/')).kvs.map((kv) => kv.key), ['n/1/e1', 'n/1/e2']);
    assert.equal((await store.range('n/1')).kvs.map((kv) => kv.key), ['n/1/e1', 'n/1/e2', 'n/10/e3'], 'a prefix is not a path segment');
    assert.equal((await store.range('a')).kvs.map((kv) => kv.key), sorted.filter((k) => k.startsWith('a')));
    assert.equal((await store.range('nothing/')).kvs, []);

    const two = await store.range('', { limit: 2 });
    assert.equal(two.kvs.map((kv) => kv.key), sorted.slice(0, 2), 'limit keeps the first keys in order');
    assert.is(two.more, true, 'more: some keys were left out');
    const exact = await store.range('n/', { limit: 3 });
    assert.equal([exact.kvs.length, exact.more], [3, false], 'a limit equal to the count leaves nothing out');
    const wide = await store.range('n/', { limit: 100 });
    assert.equal([wide.kvs.length, wide.more], [3, false]);
    const one = await store.range('n/', { limit: 1 });
    assert.equal([one.kvs.map((kv) => kv.key), one.more], [['n/1/e1'], true]);
    assert.is((await store.range('', { limit: 0 })).kvs.length, keys.length, 'limit 0 means all');
  });

  s('range at an old revision sees the store as it was then; a future revision is refused', async () => {
    const base = await revisionNow();
    const r1 = await store.put('a', enc('1'));
    const r2 = await store.put('b', enc('1'));
    const r3 = await store.put('a', enc('2'));
    const r4 = (await store.delete('b'), await revisionNow());
    const r5 = (await store.txn({ compare: [], success: [put('c', '1'), put('a', '3')] })).revision;
    const at = async (rev: number, prefix = '') =>
      (await store.range(prefix, { revision: rev })).kvs.map((kv) => `${kv.key}=${dec(kv.value)}@${kv.createRevision}/${kv.modRevision}/v${kv.version}`);
    assert.equal(await at(base), [], 'before the first write: nothing');
    assert.equal(await at(r1), [`a=1@${r1}/${r1}/v1`]);
    assert.equal(await at(r2), [`a=1@${r1}/${r1}/v1`, `b=1@${r2}/${r2}/v1`]);
    assert.equal(await at(r3), [`a=2@${r1}/${r3}/v2`, `b=1@${r2}/${r2}/v1`]);
    assert.equal(await at(r4), [`a=2@${r1}/${r3}/v2`]);
    assert.equal(await at(r5), [`a=3@${r1}/${r5}/v3`, `c=1@${r5}/${r5}/v1`]);
    assert.equal(await at(r3, 'b'), [`b=1@${r2}/${r2}/v1`], 'a prefix applies at an old revision too');
    const limited = await store.range('', { revision: r3, limit: 1 });
    assert.equal([limited.kvs.map((kv) => kv.key), limited.more], [['a'], true]);
    assert.is(limited.revision, r5, 'the answer carries the store\'s current revision');
    await rejection(store.range('', { revision: r5 + 10 }), 'range at a future revision');
  });

  // ---------------------------------------------------------------- revisions and transactions

  s('one revision per write: a transaction\'s writes share it; reads, failed compares and no-op deletes write none', async () => {
    const base = await revisionNow();
    const t = await store.txn({ compare: [], success: [put('t/a', '1'), put('t/b', '2'), put('t/c', '3')] });
    assert.equal([t.succeeded, t.revision], [true, base + 1], 'three puts, one revision');
    for (const k of ['t/a', 't/b', 't/c']) {
      const kv = (await store.get(k))!;
      assert.equal([kv.createRevision, kv.modRevision, kv.version], [base + 1, base + 1, 1], k);
    }
    const failed = await store.txn({ compare: [{ key: 't/a', target: 'version', result: '=', value: 9 }], success: [put('t/x', 'no')] });
    assert.equal([failed.succeeded, failed.revision, failed.results.length], [false, base + 1, 0], 'a failed compare without a failure branch writes nothing');
    assert.is(await store.get('t/x'), undefined, 'the success branch did not run');
    const reads = await store.txn({ compare: [], success: [{ op: 'get', key: 't/a' }, { op: 'range', prefix: 't/' }] });
    assert.equal([reads.succeeded, reads.revision], [true, base + 1], 'reads write nothing');
    const none = await store.txn({ compare: [], success: [{ op: 'delete', key: 'missing' }, { op: 'deletePrefix', prefix: 'missing/' }] });
    assert.equal([none.revision, none.results[0]!.deleted, none.results[1]!.deleted], [base + 1, 0, 0], 'deletes that delete nothing write nothing');
    const empty = await store.txn({ compare: [], success: [] });
    assert.equal([empty.succeeded, empty.revision], [true, base + 1]);
    const failure = await store.txn({ compare: [{ key: 'missing', target: 'version', result: '>', value: 0 }], success: [], failure: [put('t/f', '1')] });
    assert.equal([failure.succeeded, failure.revision], [false, base + 2], 'a failure branch that writes takes a revision');
    assert.is(await revisionNow(), base + 2);

    let last = base + 2;
    for (let i = 0; i < 20; i++) {
      const r =
        i % 3 === 0
          ? await store.put(`m/${i % 5}`, enc(String(i)))
          : i % 3 === 1
            ? (await store.txn({ compare: [], success: [put(`m/${i % 5}`, String(i)), { op: 'delete', key: `m/${(i + 1) % 5}` }] })).revision
            : (await store.txn({ compare: [{ key: 'nope', target: 'createRevision', result: '=', value: 0 }], success: [put(`m/x${i}`, '1')] })).revision;
      assert.is(r, last + 1, `write ${i} takes revision ${last + 1}`);
      last = r;
    }
    assert.is(await revisionNow(), last);
  });

  s('compares on every target; a missing key compares as 0, and a value compare on it is false', async () => {
    const rc = await store.put('k', enc('v1'));
    const rm = await store.put('k', enc('v2'));
    const base = await revisionNow();
    const c = (key: string, target: 'createRevision' | 'modRevision' | 'version', result: Compare['result'], value: number): Compare => ({ key, target, result, value });
    const v = (key: string, result: '=' | '!=', value: string): Compare => ({ key, target: 'value', result, value: enc(value) });
    const cases: [Compare, boolean][] = [
      [c('k', 'createRevision', '=', rc), true],
      [c('k', 'createRevision', '!=', rc), false],
      [c('k', 'createRevision', '<', rc + 1), true],
      [c('k', 'createRevision', '<', rc), false],
      [c('k', 'createRevision', '>', rc - 1), true],
      [c('k', 'createRevision', '>', rc), false],
      [c('k', 'modRevision', '=', rm), true],
      [c('k', 'modRevision', '!=', rm), false],
      [c('k', 'modRevision', '>', rc), true],
      [c('k', 'modRevision', '<', rm), false],
      [c('k', 'version', '=', 2), true],
      [c('k', 'version', '>', 1), true],
      [c('k', 'version', '<', 2), false],
      [c('k', 'version', '!=', 2), false],
      [c('k', 'createRevision', '=', 0), false],
      [v('k', '=', 'v2'), true],
      [v('k', '!=', 'v2'), false],
      [v('k', '=', 'v1'), false],
      [v('k', '!=', 'v1'), true],
      [v('k', '=', ''), false],
      [c('nope', 'createRevision', '=', 0), true],
      [c('nope', 'modRevision', '=', 0), true],
      [c('nope', 'version', '=', 0), true],
      [c('nope', 'version', '>', 0), false],
      [c('nope', 'createRevision', '!=', 0), false],
      [c('nope', 'modRevision', '<', 1), true],
      [c('nope', 'version', '<', 0), false],
      [v('nope', '=', ''), false],
      [v('nope', '!=', 'x'), false],
    ];
    for (const [cmp, want] of cases) {
      const r = await store.txn({ compare: [cmp], success: [{ op: 'get', key: 'k' }], failure: [] });
      const label = `${cmp.key} ${cmp.target} ${cmp.result} ${cmp.target === 'value' ? JSON.stringify(dec(cmp.value)) : cmp.value}`;
      assert.is(r.succeeded, want, label);
      assert.is(r.results.length, want ? 1 : 0, `${label}: the branch that ran`);
    }
    const both = await store.txn({ compare: [cases[0]![0], cases[6]![0]], success: [] });
    assert.ok(both.succeeded, 'every compare holds: success');
    const one = await store.txn({ compare: [cases[0]![0], cases[1]![0]], success: [] });
    assert.not.ok(one.succeeded, 'one compare fails: failure');
    assert.is(await revisionNow(), base, 'compares write nothing');
  });

  s('branches: results per op in order; a read in a transaction sees its earlier writes', async () => {
    for (const k of ['p/1', 'p/2', 'p/3', 'q/1']) await store.put(k, enc(k));
    const base = await revisionNow();
    const r = await store.txn({
      compare: [{ key: 'q/1', target: 'value', result: '=', value: enc('nope') }],
      success: [put('never', '1')],
      failure: [
        { op: 'get', key: 'p/1' },
        { op: 'range', prefix: 'p/' },
        put('q/2', 'q/2'),
        { op: 'delete', key: 'p/1' },
        { op: 'deletePrefix', prefix: 'p/' },
        { op: 'get', key: 'p/2' },
        { op: 'range', prefix: '' },
        { op: 'delete', key: 'p/1' },
      ],
    });
    assert.equal([r.succeeded, r.revision, r.results.length], [false, base + 1, 8]);
    const keys = (i: number) => r.results[i]!.kvs!.map((kv) => kv.key);
    assert.equal(keys(0), ['p/1']);
    assert.equal(keys(1), ['p/1', 'p/2', 'p/3']);
    assert.is(r.results[2]!.kvs, undefined, 'a put has no kvs');
    assert.is(r.results[2]!.deleted, undefined, 'a put has no deleted count');
    assert.is(r.results[3]!.deleted, 1);
    assert.is(r.results[4]!.deleted, 2, 'p/2 and p/3: the earlier delete of p/1 is seen');
    assert.equal(keys(5), [], 'the get after the deletePrefix sees it');
    assert.equal(keys(6), ['q/1', 'q/2'], 'the range sees the put and the deletes before it');
    assert.is(r.results[7]!.deleted, 0);
    assert.is(await store.get('never'), undefined);
    assert.equal((await store.range('')).kvs.map((kv) => kv.key), ['q/1', 'q/2']);

    const w = await store.txn({ compare: [], success: [put('n/a', 'x'), { op: 'get', key: 'n/a' }, { op: 'range', prefix: 'n/' }] });
    const seen = w.results[1]!.kvs![0]!;
    assert.equal([dec(seen.value), seen.createRevision, seen.modRevision, seen.version], ['x', w.revision, w.revision, 1], 'a get after a put in the same transaction sees the put at the transaction\'s revision');
    assert.equal(w.results[2]!.kvs!.map((kv) => kv.key), ['n/a']);
    const g = await store.txn({ compare: [{ key: 'n/a', target: 'version', result: '=', value: 1 }], success: [{ op: 'get', key: 'n/a' }, { op: 'get', key: 'missing' }] });
    assert.equal([g.succeeded, g.results[0]!.kvs!.length, g.results[1]!.kvs!.length], [true, 1, 0], 'a get of a missing key is an empty kvs');
  });

  s('a branch may write a key once: putting a key twice, or a key a delete of the branch covers, is refused and writes nothing (etcd\'s rule)', async () => {
    await store.put('o/a', enc('1'));
    const base = await revisionNow();
    const refused: [string, TxnOp[]][] = [
      ['a key put twice', [put('o/x', '1'), put('o/x', '2')]],
      ['a put and a delete of the key', [{ op: 'delete', key: 'o/a' }, put('o/a', '2')]],
      ['a put before a delete of the key', [put('o/a', '2'), { op: 'delete', key: 'o/a' }]],
      ['a put under a deletePrefix', [{ op: 'deletePrefix', prefix: 'o/' }, put('o/new', '1')]],
      ['a put under a later deletePrefix', [put('o/new', '1'), { op: 'deletePrefix', prefix: 'o' }]],
    ];
    for (const [label, ops] of refused) {
      const e = await rejection(store.txn({ compare: [], success: ops }), label);
      assert.is(e.category, 'BadRequest', label);
      const f = await rejection(store.txn({ compare: [], success: [], failure: ops }), `${label}, in the failure branch that does not run`);
      assert.is(f.category, 'BadRequest', `${label}: both branches are checked`);
    }
    assert.is(await revisionNow(), base, 'nothing was written');
    assert.equal(dec((await store.get('o/a'))!.value), '1');
    const fine = await store.txn({
      compare: [],
      success: [{ op: 'delete', key: 'o/a' }, { op: 'deletePrefix', prefix: 'o/' }, { op: 'delete', key: 'o/a' }, put('p/x', '1'), { op: 'get', key: 'p/x' }],
      failure: [put('p/x', '2')],
    });
    assert.equal([fine.succeeded, fine.revision, fine.results[1]!.deleted, fine.results[4]!.kvs!.length], [true, base + 1, 0, 1], 'overlapping deletes, and the same key in the two branches, are fine');
  });

  s('deletePrefix deletes exactly the keys under a plain string prefix and counts them', async () => {
    for (const k of ['p', 'p/a', 'p/b', 'p/c/d', 'pq', 'o']) await store.put(k, enc(k));
    const base = await revisionNow();
    const r = await store.txn({ compare: [], success: [{ op: 'deletePrefix', prefix: 'p/' }] });
    assert.equal([r.results[0]!.deleted, r.revision], [3, base + 1], 'three keys, one revision');
    assert.equal((await store.range('')).kvs.map((kv) => kv.key), ['o', 'p', 'pq']);
    const r2 = await store.txn({ compare: [], success: [{ op: 'deletePrefix', prefix: 'p' }] });
    assert.is(r2.results[0]!.deleted, 2);
    assert.equal((await store.range('')).kvs.map((kv) => kv.key), ['o']);
  });

  s('atomic and serializable: of 50 racing create-if-absent transactions exactly one wins; concurrent CAS increments lose nothing', async () => {
    const base = await revisionNow();
    const res = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.txn({
          compare: [{ key: 'lock', target: 'createRevision', result: '=', value: 0 }],
          success: [put('lock', `r${i}`), put(`owner/${i}`, '1')],
          failure: [{ op: 'get', key: 'lock' }],
        }),
      ),
    );
    const winners = res.map((r, i) => (r.succeeded ? i : -1)).filter((i) => i >= 0);
    assert.is(winners.length, 1, `exactly one winner (got ${winners.length})`);
    const w = winners[0]!;
    assert.is(res[w]!.revision, base + 1);
    const lock = (await store.get('lock'))!;
    assert.is(dec(lock.value), `r${w}`);
    assert.equal((await store.range('owner/')).kvs.map((kv) => kv.key), [`owner/${w}`], 'only the winner\'s other write landed');
    for (const [i, r] of res.entries()) {
      if (i === w) continue;
      const seen = r.results[0]!.kvs![0]!;
      assert.is(dec(seen.value), `r${w}`, 'every loser reads the winner\'s value');
      assert.ok(r.revision >= base + 1);
    }
    assert.is(await revisionNow(), base + 1, 'the losers wrote nothing');

    const clients = 10;
    const each = 10;
    let retries = 0;
    const increment = async () => {
      for (;;) {
        const kv = await store.get('counter');
        const n = kv === undefined ? 0 : Number(dec(kv.value));
        const r = await store.txn({
          compare: [kv === undefined ? { key: 'counter', target: 'createRevision', result: '=', value: 0 } : { key: 'counter', target: 'modRevision', result: '=', value: kv.modRevision }],
          success: [put('counter', String(n + 1))],
        });
        if (r.succeeded) return;
        retries++;
      }
    };
    await Promise.all(Array.from({ length: clients }, async () => {
      for (let i = 0; i < each; i++) await increment();
    }));
    const counter = (await store.get('counter'))!;
    assert.equal([dec(counter.value), counter.version], [String(clients * each), clients * each], `no lost update (${retries} retries)`);
    assert.is(await revisionNow(), base + 1 + clients * each, 'one revision per successful increment');
  });

  // ---------------------------------------------------------------- watch

  s('watch: one batch per revision, in order; events in the order the transaction made them; only keys under the prefix', async () => {
    const base = await revisionNow();
    const w = collect(store, 'w/', base + 1);
    const all = collect(store, '', base + 1);
    const twin = collect(store, 'w/', base + 1);
    const r1 = await store.put('w/a', enc('1'));
    const r2 = (await store.txn({ compare: [], success: [put('w/b', 'b1'), put('x/c', 'c'), { op: 'delete', key: 'w/a' }, put('w/c', 'c1')] })).revision;
    const r3 = await store.put('x/d', enc('d'));
    const r4 = await store.put('w/b', enc('b2'));
    const r5 = (await store.txn({ compare: [], success: [{ op: 'deletePrefix', prefix: 'w/' }] })).revision;
    await until(() => w.batches.length >= 4 && all.batches.length >= 5 && twin.batches.length >= 4, 'the watches to deliver every revision');
    await sleep(20);
    assert.equal(w.batches.map(describe), [`${r1}:put w/a`, `${r2}:put w/b,delete w/a,put w/c`, `${r4}:put w/b`, `${r5}:delete w/b,delete w/c`]);
    assert.equal(twin.batches.map(describe), w.batches.map(describe), 'two watches see the same');
    assert.equal(all.batches.map(describe), [`${r1}:put w/a`, `${r2}:put w/b,put x/c,delete w/a,put w/c`, `${r3}:put x/d`, `${r4}:put w/b`, `${r5}:delete w/b,delete w/c`]);
    for (const b of all.batches) {
      for (const e of b.events) {
        assert.is(e.kv.modRevision, b.revision, `${e.type} ${e.kv.key}: modRevision is the batch's revision`);
        if (e.type === 'delete') assert.is(e.kv.value.length, 0, 'a delete event has an empty value');
      }
    }
    const putB2 = w.batches[2]!.events[0]!.kv;
    assert.equal([dec(putB2.value), putB2.createRevision, putB2.modRevision, putB2.version, putB2.lease], ['b2', r2, r4, 2, 0], 'a put event carries the whole key-value');
    const putC = w.batches[1]!.events[2]!.kv;
    assert.equal([dec(putC.value), putC.createRevision, putC.version], ['c1', r2, 1]);
    assert.equal([...w.errors, ...all.errors], []);

    w.close();
    await store.put('w/late', enc('1'));
    await until(() => all.batches.length >= 6, 'the open watch to see the later write');
    await sleep(20);
    assert.is(w.batches.length, 4, 'a closed watch delivers nothing more');
    all.close();
    twin.close();
  });

  s('watch without fromRevision: only changes after it was established', async () => {
    await store.put('e/before', enc('1'));
    const before = await revisionNow();
    const w = collect(store, 'e/');
    let i = 0;
    // A remote backend establishes the watch asynchronously: write until it sees one.
    await until(async () => {
      if (w.batches.length > 0) return true;
      await store.put(`e/after${i++}`, enc('1'));
      await sleep(20);
      return w.batches.length > 0;
    }, 'the watch to see a write made after it');
    assert.ok(w.batches.every((b) => b.revision > before), `no history replayed (revisions ${revisionsOf(w).join(',')} all > ${before})`);
    assert.ok(w.batches.every((b) => b.events.every((e) => e.kv.key !== 'e/before')));
    const revs = revisionsOf(w);
    assert.equal(revs, [...revs].sort((a, b) => a - b));
    w.close();
  });

  s('watch resumes from a revision: history, then live; no duplicates and no gaps across a resume at last + 1', async () => {
    const base = await revisionNow();
    for (let i = 0; i < 10; i++) await store.put(`r/${i}`, enc(String(i)));
    const a = collect(store, 'r/', base + 1);
    await until(() => a.batches.length >= 10, 'the replay of 10 revisions');
    for (let i = 10; i < 15; i++) await store.put(`r/${i}`, enc(String(i)));
    await until(() => a.batches.length >= 15, 'history then 5 live revisions');
    assert.equal(revisionsOf(a), range(base + 1, base + 15), 'replay then live, each revision once, in order');
    assert.equal(a.batches.map((b) => b.events[0]!.kv.key), Array.from({ length: 15 }, (_, i) => `r/${i}`));
    a.close();

    const mid = collect(store, 'r/', base + 4);
    await until(() => mid.batches.length >= 12, 'a replay from the middle');
    assert.equal(revisionsOf(mid), range(base + 4, base + 15), 'starts exactly at fromRevision');
    mid.close();

    // Resume under load: close a watch from inside its callback and reopen at last + 1.
    const start = base + 16;
    const got: number[] = [];
    let second: Collector | undefined;
    const first = collect(store, 'r/', start, (b, c) => {
      if (c.batches.length === 10) {
        c.close();
        second = collect(store, 'r/', b.revision + 1);
      }
    });
    const writes = 40;
    for (let i = 0; i < writes; i++) {
      await store.put(`r/load${i % 7}`, enc(String(i)));
      if (i % 5 === 0) await sleep(1);
    }
    const end = start + writes - 1;
    await until(() => second !== undefined && second.batches.some((b) => b.revision === end), 'the resumed watch to reach the last write');
    await sleep(20);
    got.push(...revisionsOf(first), ...revisionsOf(second!));
    assert.is(first.batches.length, 10);
    assert.equal(got, range(start, end), 'the two watches together saw every revision exactly once');
    assert.equal([...first.errors, ...second!.errors], []);
    second!.close();

    const now = await revisionNow();
    const future = collect(store, 'r/', now + 3);
    for (let i = 0; i < 5; i++) await store.put(`r/f${i}`, enc('1'));
    await until(() => future.batches.length >= 3, 'a watch from a future revision');
    await sleep(20);
    assert.equal(revisionsOf(future), range(now + 3, now + 5), 'a future start delivers from there on');
    future.close();
  });

  s('compaction: history before it is gone (watch and read fail with WEFT_CLUSTER_STORE_COMPACTED), after it intact', async () => {
    const base = await revisionNow();
    for (let i = 0; i < 10; i++) await store.put(`c/${i}`, enc(String(i)));
    const at = base + 6;
    await store.compact(at);
    const st = await store.status();
    assert.equal([st.compactRevision, st.revision], [at, base + 10]);

    const old = collect(store, 'c/', base + 2);
    await until(() => old.errors.length > 0, 'onError for a watch from a compacted revision');
    await sleep(20);
    assert.is(old.errors[0]!.code, ClusterStoreCodes.compacted);
    assert.is(old.errors[0]!.value, at, 'the error carries the compaction revision');
    assert.equal(old.batches, [], 'never silently skipped history');

    const e = await rejection(store.range('', { revision: base + 3 }), 'range at a compacted revision');
    assert.is(e.code, ClusterStoreCodes.compacted);
    assert.is((await rejection(store.range('c/', { revision: at - 1 }), 'range just before the compaction revision')).code, ClusterStoreCodes.compacted);
    const edge = collect(store, 'c/', at - 1);
    await until(() => edge.errors.length > 0, 'onError for a watch from just before the compaction revision');
    assert.is(edge.errors[0]!.code, ClusterStoreCodes.compacted);
    assert.equal(edge.batches, []);
    assert.equal((await store.range('c/', { revision: at })).kvs.map((kv) => kv.key), Array.from({ length: 6 }, (_, i) => `c/${i}`), 'a read at the compaction revision works');
    assert.is((await store.range('c/', { revision: base + 8 })).kvs.length, 8);

    const after = collect(store, 'c/', at + 1);
    await until(() => after.batches.length >= 4, 'a watch after the compaction revision');
    assert.equal(revisionsOf(after), range(at + 1, base + 10));
    assert.equal(after.errors, []);
    after.close();
    assert.is((await store.range('c/')).kvs.length, 10, 'compaction keeps the current state');
    await rejection(store.compact(base + 20), 'compact at a future revision');
    assert.is((await store.status()).compactRevision, at);
  });

  // ---------------------------------------------------------------- leases

  s('a lease\'s keys vanish, with delete events, when it expires without keepAlive; keys without it stay', async () => {
    const lease = await store.grantLease(ttl);
    assert.ok(Number.isInteger(lease) && lease > 0, `lease ID ${lease} is an integer > 0`);
    const other = await store.grantLease(ttl);
    assert.ok(other !== lease, 'two leases, two IDs');
    await store.txn({ compare: [], success: [put('l/a', 'a', lease), put('l/b', 'b', lease), put('l/c', 'c')] });
    const start = await revisionNow();
    assert.is((await store.get('l/a'))!.lease, lease, 'the key names its lease');
    assert.is((await store.get('l/c'))!.lease, 0);
    const w = collect(store, 'l/', start + 1);
    await until(async () => (await store.get('l/a')) === undefined && (await store.get('l/b')) === undefined, 'the lease to expire', ttl * 3000 + 5000);
    assert.ok(await store.get('l/c'), 'a key without the lease stays');
    await until(() => w.batches.flatMap((b) => b.events).length >= 2, 'the delete events of the expiry');
    const events = w.batches.flatMap((b) => b.events.map((e) => `${e.type} ${e.kv.key}`));
    assert.equal(events.sort(), ['delete l/a', 'delete l/b']);
    w.close();
    const e = await rejection(store.keepAlive(lease), 'keepAlive of an expired lease');
    assert.is(e.code, ClusterStoreCodes.leaseNotFound);
    const p = await rejection(store.put('l/d', enc('d'), { lease }), 'put with an expired lease');
    assert.is(p.code, ClusterStoreCodes.leaseNotFound);
    assert.is(await store.get('l/d'), undefined);
  });

  s('keepAlive keeps a lease\'s keys past its TTL', async () => {
    const lease = await store.grantLease(ttl);
    await store.put('k/alive', enc('1'), { lease });
    const until = Date.now() + ttl * 3000;
    while (Date.now() < until) {
      const left = await store.keepAlive(lease);
      assert.ok(left > 0, `keepAlive answers the remaining TTL (${left})`);
      await sleep((ttl * 1000) / 4);
    }
    assert.is((await store.get('k/alive'))?.lease, lease, 'still there after 3 TTLs of keepAlive');
  });

  s('revoke deletes a lease\'s keys at once in one revision; a key rebound without the lease survives; revoking an unknown lease is fine', async () => {
    const lease = await store.grantLease(Math.max(ttl, 60));
    await store.put('v/a', enc('a'), { lease });
    await store.put('v/b', enc('b'), { lease });
    await store.put('v/c', enc('c'), { lease });
    await store.put('v/c', enc('c2'));
    assert.is((await store.get('v/c'))!.lease, 0, 'a put without a lease unbinds the key');
    const before = await revisionNow();
    await store.revokeLease(lease);
    assert.is(await store.get('v/a'), undefined);
    assert.is(await store.get('v/b'), undefined);
    assert.is(dec((await store.get('v/c'))!.value), 'c2');
    assert.is(await revisionNow(), before + 1, 'the keys of a lease go in one revision');
    const hist = collect(store, 'v/', before + 1);
    await until(() => hist.batches.length >= 1, 'the revoke in history');
    assert.equal(hist.batches.map(describe), [`${before + 1}:delete v/a,delete v/b`]);
    hist.close();
    await store.revokeLease(lease);
    await store.revokeLease(987654321);
    assert.is((await rejection(store.keepAlive(lease), 'keepAlive after revoke')).code, ClusterStoreCodes.leaseNotFound);
  });

  s('a put with an unknown lease fails with WEFT_CLUSTER_STORE_LEASE_NOT_FOUND and writes nothing', async () => {
    await store.put('u/x', enc('1'));
    const base = await revisionNow();
    const e = await rejection(store.put('u/a', enc('1'), { lease: 424242 }), 'put with an unknown lease');
    assert.is(e.code, ClusterStoreCodes.leaseNotFound);
    const t = await rejection(store.txn({ compare: [], success: [put('u/b', '1'), { op: 'delete', key: 'u/x' }, put('u/c', '1', 424242)] }), 'txn with an unknown lease');
    assert.is(t.code, ClusterStoreCodes.leaseNotFound);
    assert.is(await store.get('u/a'), undefined);
    assert.is(await store.get('u/b'), undefined, 'the transaction\'s other writes did not land');
    assert.ok(await store.get('u/x'), 'nor did its delete');
    assert.is(await revisionNow(), base, 'no revision was taken');
    const bad = await rejection(store.grantLease(0), 'a lease of 0 s');
    assert.ok(bad.message.length > 0);
    await rejection(store.grantLease(-5), 'a negative TTL');
  });

  // ---------------------------------------------------------------- close

  s('after close every call fails with WEFT_CLUSTER_STORE_UNAVAILABLE, and watches end', async () => {
    const base = await revisionNow();
    const lease = await store.grantLease(Math.max(ttl, 60));
    const w = collect(store, '', base + 1);
    await store.put('a', enc('1'));
    await until(() => w.batches.length >= 1, 'the watch to see a write');
    await store.close();
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get('a')],
      ['range', () => store.range('')],
      ['put', () => store.put('a', enc('2'))],
      ['delete', () => store.delete('a')],
      ['txn', () => store.txn({ compare: [], success: [] })],
      ['grantLease', () => store.grantLease(ttl)],
      ['keepAlive', () => store.keepAlive(lease)],
      ['revokeLease', () => store.revokeLease(lease)],
      ['compact', () => store.compact(base + 1)],
      ['status', () => store.status()],
    ];
    for (const [label, call] of calls) {
      const e = await rejection(call(), `${label} after close`);
      assert.is(e.code, ClusterStoreCodes.unavailable, `${label} after close`);
      assert.is(e.category, 'Unavailable', label);
    }
    const late = collect(store, '', base);
    await until(() => late.errors.length > 0, 'onError for a watch on a closed store');
    assert.is(late.errors[0]!.code, ClusterStoreCodes.unavailable);
    assert.is(w.batches.length, 1, 'the open watch delivered nothing more');
    await store.close();
  });

  // ---------------------------------------------------------------- reopen

  if (opts.reopen !== undefined) {
    const reopen = opts.reopen;
    const reopened = async () => {
      await store.close();
      store = await reopen();
      return store;
    };

    s('durable: data, revisions, versions, compaction and history survive a reopen', async () => {
      const base = await revisionNow();
      await store.put('d/a', enc('1'));
      await store.txn({ compare: [], success: [put('d/b', 'b'), put('d/c', 'c')] });
      await store.put('d/a', enc('2'));
      await store.delete('d/c');
      await store.compact(base + 2);
      const mid = await store.put('d/e', enc('e'));
      await store.txn({ compare: [], success: [put('d/f', 'f'), { op: 'delete', key: 'd/e' }] });
      await store.delete('d/b');
      const st = await store.status();
      const full = await store.range('');
      const old = await store.range('', { revision: mid });
      const h = collect(store, '', base + 3);
      await until(() => h.batches.some((b) => b.revision === st.revision), 'the history before the reopen');
      h.close();

      const again = await reopened();
      const st2 = await again.status();
      assert.equal([st2.revision, st2.compactRevision], [st.revision, st.compactRevision], 'the revision counter and the compaction survive, even when the last write was a delete');
      assert.equal((await again.range('')).kvs, full.kvs, 'every key with its revisions, version and value');
      assert.equal((await again.range('', { revision: mid })).kvs, old.kvs, 'reads at an old revision');
      const h2 = collect(again, '', base + 3);
      await until(() => h2.batches.some((b) => b.revision === st.revision), 'the history after the reopen');
      await sleep(20);
      assert.equal(h2.batches, h.batches, 'the same history, event by event');
      h2.close();
      assert.is((await rejection(again.range('', { revision: base + 1 }), 'a compacted read after reopen')).code, ClusterStoreCodes.compacted);
      const next = await again.put('d/a', enc('3'));
      assert.is(next, st.revision + 1, 'the next write takes the next revision (none reused)');
      const a = (await again.get('d/a'))!;
      assert.equal([a.createRevision, a.version], [base + 1, 3], 'createRevision and version carry on');
    });

    s('leases survive a reopen: keys stay bound, keepAlive and revoke work, IDs are not reused', async () => {
      const lease = await store.grantLease(Math.max(ttl, 60));
      await store.put('ls/a', enc('1'), { lease });
      await store.put('ls/b', enc('2'));
      const again = await reopened();
      assert.is((await again.get('ls/a'))?.lease, lease, 'the key is still bound to its lease');
      assert.ok((await again.keepAlive(lease)) > 0, 'keepAlive works after the reopen');
      const fresh = await again.grantLease(Math.max(ttl, 60));
      assert.ok(fresh !== lease, 'a new lease does not reuse an ID');
      await again.revokeLease(lease);
      assert.is(await again.get('ls/a'), undefined, 'revoke after the reopen deletes the key');
      assert.ok(await again.get('ls/b'));
      await again.put('ls/c', enc('3'), { lease: fresh });
      const third = await reopened();
      assert.is((await third.get('ls/c'))?.lease, fresh);
      assert.is((await rejection(third.keepAlive(lease), 'the revoked lease after a reopen')).code, ClusterStoreCodes.leaseNotFound);
    });
  }

  inner.run();
}
