import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { DUPLICATE, FRAG_HDR, FRAG_MAX_COUNT, MALFORMED, PENDING, Reassembly, fragCount, isFragment, writeFragHeader } from './frag.ts';

/** Splits `env` into fragment datagrams of at most `dsz` bytes, as the worker does. */
function split(env: Uint8Array, dsz: number, group: number): Uint8Array[] {
  const chunk = dsz - FRAG_HDR;
  const count = Math.ceil(env.length / chunk);
  const out: Uint8Array[] = [];
  for (let j = 0; j < count; j++) {
    const part = env.subarray(j * chunk, Math.min(env.length, (j + 1) * chunk));
    const d = new Uint8Array(FRAG_HDR + part.length);
    writeFragHeader(d, 0, group, env.length, chunk, j, count);
    d.set(part, FRAG_HDR);
    out.push(d);
  }
  return out;
}

function envelope(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

/** Feeds datagrams; returns the completed slot (exactly one completion expected) and the codes. */
function feed(r: Reassembly, ds: readonly Uint8Array[], src: number): { slot: number; codes: number[] } {
  let slot = -100;
  const codes: number[] = [];
  for (const d of ds) {
    const c = r.add(d, 0, d.length, src);
    codes.push(c);
    if (c >= 0) {
      assert.is(slot, -100, 'completed once');
      slot = c;
    }
  }
  return { slot, codes };
}

test('header: marker word in the reserved SPI range, big-endian fields', () => {
  const b = new Uint8Array(FRAG_HDR);
  writeFragHeader(b, 0, 0xdeadbeef, 65_000, 1454, 3, 45);
  assert.equal([...b], [0, 0, 0, 0xf1, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0xfd, 0xe8, 0x05, 0xae, 3, 45]);
  assert.ok(isFragment(b, 0));
  assert.not.ok(isFragment(new Uint8Array([0x08, 0, 0, 0]), 0), 'VXLAN flags word');
  assert.not.ok(isFragment(new Uint8Array([0, 0, 1, 0xf1]), 0), 'an SPI ≥ 256');
  assert.is(fragCount(65_000, 1470), Math.ceil(65_000 / 1454));
});

test('reassembles an envelope from fragments in any order, at several datagram sizes', () => {
  for (const [n, dsz] of [[65_563, 1470], [1_000, 1470], [1454, 1470], [1455, 1470], [40_000, 9050], [30_000, 1300]] as const) {
    const env = envelope(n, n + dsz);
    const ds = split(env, dsz, 77);
    assert.ok(ds.length <= FRAG_MAX_COUNT);
    // Reverse order, then a rotation: the last fragment (the short one) may come first.
    const order = [...ds].reverse();
    order.push(order.shift()!);
    const r = new Reassembly(4, 70_000);
    const { slot, codes } = feed(r, order, 0xc6120002);
    assert.ok(slot >= 0, `completed (${n}/${dsz}): ${codes.join(',')}`);
    assert.ok(codes.slice(0, -1).every((c) => c === PENDING));
    assert.is(r.length(slot), n);
    assert.equal(r.bytes(slot), env, `bytes of ${n}/${dsz}`);
    r.release(slot);
    assert.is(r.pending(), 0);
    assert.is(r.malformed + r.evicted + r.duplicates, 0);
  }
});

test('a repeated fragment is counted and does not complete the group early or twice', () => {
  const env = envelope(5000, 9);
  const ds = split(env, 1470, 1);
  const r = new Reassembly(2, 70_000);
  assert.is(r.add(ds[0]!, 0, ds[0]!.length, 5), PENDING);
  assert.is(r.add(ds[0]!, 0, ds[0]!.length, 5), DUPLICATE);
  assert.is(r.add(ds[1]!, 0, ds[1]!.length, 5), PENDING);
  assert.is(r.add(ds[2]!, 0, ds[2]!.length, 5), PENDING);
  const s = r.add(ds[3]!, 0, ds[3]!.length, 5);
  assert.ok(s >= 0);
  assert.equal(r.bytes(s), env);
  assert.is(r.duplicates, 1);
});

test('malformed fragments are refused and counted, whatever field is wrong', () => {
  const good = split(envelope(4000, 3), 1470, 5)[0]!;
  const bad = (mutate: (d: Uint8Array) => Uint8Array | void, what: string): void => {
    const d = good.slice();
    const m = mutate(d) ?? d;
    const r = new Reassembly(2, 70_000);
    assert.is(r.add(m, 0, m.length, 1), MALFORMED, what);
    assert.is(r.malformed, 1, what);
    assert.is(r.pending(), 0, `${what}: no slot taken`);
  };
  bad((d) => void (d[3] = 0xf2), 'not the marker');
  bad((d) => void (d[15] = 2), 'count ≠ ceil(total/chunk)');
  bad((d) => void (d[14] = 3), 'index ≥ count');
  bad((d) => void (d[8] = 1), 'total larger than a slot');
  bad((d) => void ((d[12] = 0), (d[13] = 0)), 'zero chunk');
  bad((d) => d.subarray(0, d.length - 1), 'payload shorter than the chunk');
  bad((d) => d.subarray(0, FRAG_HDR), 'header only');
  // A fragment whose total disagrees with its group's.
  const r = new Reassembly(2, 70_000);
  assert.is(r.add(good, 0, good.length, 1), PENDING);
  const other = split(envelope(5000, 3), 1470, 5)[1]!;
  assert.is(r.add(other, 0, other.length, 1), MALFORMED);
});

test('groups are keyed by sender and group id; when slots run out the oldest incomplete group is evicted and counted', () => {
  const r = new Reassembly(2, 70_000);
  const a = split(envelope(3000, 1), 1470, 10);
  const b = split(envelope(3000, 2), 1470, 10); // same group id, another sender
  const c = split(envelope(3000, 3), 1470, 11);
  assert.is(r.add(a[0]!, 0, a[0]!.length, 1), PENDING);
  assert.is(r.add(b[0]!, 0, b[0]!.length, 2), PENDING);
  assert.is(r.pending(), 2);
  // A third group: the first one (sender 1) goes.
  assert.is(r.add(c[0]!, 0, c[0]!.length, 1), PENDING);
  assert.is(r.evicted, 1);
  // The evicted group's remaining pieces come later: they take a slot again (evicting sender 2's
  // group, now the oldest) but can never complete, the first piece being gone.
  for (const d of a.slice(1)) assert.is(r.add(d, 0, d.length, 1), PENDING);
  assert.is(r.evicted, 2);
  // Group 11 was never disturbed and completes.
  const done: number[] = [];
  for (const d of c.slice(1)) {
    const s = r.add(d, 0, d.length, 1);
    if (s >= 0) done.push(s);
  }
  assert.is(done.length, 1);
  assert.equal(r.bytes(done[0]!), envelope(3000, 3));
});

test('a slot is reused after release; a fresh Reassembly takes only sane sizes', () => {
  const r = new Reassembly(1, 70_000);
  for (let k = 0; k < 5; k++) {
    const env = envelope(2000 + k, k + 1);
    const { slot } = feed(r, split(env, 1470, k), 9);
    assert.is(slot, 0);
    assert.equal(r.bytes(0), env);
    r.release(0);
  }
  assert.is(r.evicted, 0);
  assert.throws(() => new Reassembly(0), /slots must be a positive integer, got 0/);
  assert.throws(() => new Reassembly(2, 100, new Uint8Array(150)), /cannot hold 2 slots of 100/);
});

test.run();
