/**
 * Shared conformance suite for the kernel `cipher` contract. Every cipher — ours and third
 * parties' — runs it: `testCipher('my-cipher', () => createMyCipher())`.
 *
 * When the cipher names a `worker` module (what a data-path thread loads), the suite also checks
 * that the module loads through the kernel's `loadWorkerCipher`, that its config survives
 * `structuredClone`, and that the instance it builds interoperates with the service in both
 * directions under the same ring.
 *
 * It depends only on the kernel contract (`Cipher`, `CipherSession`, `KeyRing`, `DropReason`)
 * and uvu. Stats naming it relies on (proposed for the contract): `dropped` — total drops (or,
 * without it, the sum of `drop.<reason>` counters); `drop.<reason>` per DropReason key when
 * present; `sealedPackets` / `openedPackets` when present.
 *
 * Each test builds two fresh nodes (`x`, `y`) from the factory; a node's session toward the
 * other is `cipher.session(self, other)`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CIPHER_MAX_PLAINTEXT, DropReason, VXLAN_FLAGS_WORD, loadWorkerCipher, type Cipher, type CipherSession, type DataKey, type KeyRing } from '@weft/kernel';

export interface CipherConformanceOptions {
  /** The cipher's anti-replay window in packets (must be ≥ 2^16; default 2^16). */
  readonly window?: number;
  /** A reason to skip the whole suite (backend not loadable here), or false. */
  readonly skip?: string | false;
}

export type CipherFactory = () => Cipher | Promise<Cipher>;

const MIN_WINDOW = 1 << 16;

/** Deterministic 32-byte test key for `epoch` (contract tests need no CSPRNG). */
export function testKey(epoch: number): DataKey {
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = (epoch * 131 + i * 29 + 7) & 0xff;
  return { epoch, key };
}

/** Ring of consecutive epochs `from..from+n-1` (oldest first), primary = middle (second newest). */
export function testRing(from: number, n = 3): KeyRing {
  const keys = Array.from({ length: n }, (_, i) => testKey(from + i));
  return { keys, primary: n >= 2 ? n - 2 : 0 };
}

export function totalDrops(s: CipherSession): number {
  const st = s.stats;
  if (st['dropped'] !== undefined) return Number(st['dropped']);
  let n = 0;
  for (const [k, v] of Object.entries(st)) if (k.startsWith('drop.')) n += Number(v);
  return n;
}

function dropCount(s: CipherSession, reason: keyof typeof DropReason): number | undefined {
  const v = s.stats[`drop.${reason}`];
  return v === undefined ? undefined : Number(v);
}

function payload(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed * 7 + i * 13) & 0xff;
  return p;
}

interface Pair {
  readonly x: Cipher;
  readonly y: Cipher;
  /** x → y sender and receiver sessions. */
  readonly xy: CipherSession;
  readonly yx: CipherSession;
}

export function testCipher(name: string, factory: CipherFactory, options: CipherConformanceOptions = {}): void {
  const W = options.window ?? MIN_WINDOW;
  const test = suite(`cipher conformance: ${name}`);
  if (options.skip) {
    test.skip(`skipped: ${options.skip}`, () => {});
    test.run();
    return;
  }

  async function pair(ring: KeyRing = testRing(1)): Promise<Pair> {
    const x = await factory();
    const y = await factory();
    x.setKeyRing(ring);
    y.setKeyRing(ring);
    return { x, y, xy: x.session('x', 'y'), yx: y.session('y', 'x') };
  }

  /** Seals a copy of `plain` from `from`, returns exactly the sealed bytes. */
  function seal(from: CipherSession, plain: Uint8Array, overhead: number): Uint8Array {
    const out = new Uint8Array(plain.length + overhead);
    const n = from.seal(plain, plain.length, out);
    assert.is(n, plain.length + overhead, 'seal returns plaintext length + overhead');
    return out;
  }

  function open(to: CipherSession, sealed: Uint8Array): number {
    const out = new Uint8Array(sealed.length + 64);
    return to.open(sealed, sealed.length, out);
  }

  function delivers(to: CipherSession, sealed: Uint8Array, plain: Uint8Array, msg: string): void {
    const out = new Uint8Array(sealed.length + 64);
    const n = to.open(sealed, sealed.length, out);
    assert.is(n, plain.length, msg);
    assert.equal(out.subarray(0, n), plain, `${msg}: plaintext round-trips`);
  }

  test('overhead is a non-negative integer; seal fills a preallocated buffer and returns the exact length', async () => {
    const p = await pair();
    assert.ok(typeof p.x.backend === 'string' && p.x.backend.length > 0, 'backend names itself');
    const o = p.x.overhead;
    assert.ok(Number.isInteger(o) && o >= 16, `overhead ${o} covers at least a 16-byte tag`);
    for (const n of [0, 1, 63, 1400, 9000]) {
      const plain = payload(n, n);
      const big = new Uint8Array(n + o + 100).fill(0xee);
      // Only the first `n` bytes of a larger plaintext buffer are sealed.
      const src = new Uint8Array(n + 50);
      src.set(plain);
      const w = p.xy.seal(src, n, big);
      assert.is(w, n + o, `${n}-byte payload: sealed length`);
      assert.ok(big.subarray(w).every((b) => b === 0xee), `${n}-byte payload: nothing written past the returned length`);
      const out = new Uint8Array(n + 10);
      const r = p.yx.open(big, w, out);
      assert.is(r, n, `${n}-byte payload opens to its length`);
      assert.equal(out.subarray(0, r), plain);
    }
    const tiny = new Uint8Array(10 + o - 1);
    assert.ok(p.xy.seal(payload(10, 1), 10, tiny) < 0, 'seal into a buffer one byte short fails with a negative result');
  });

  test('seal without a key ring fails; open of a short packet is DropReason.short', async () => {
    const x = await factory();
    const s = x.session('x', 'y');
    assert.ok(s.seal(payload(10, 1), 10, new Uint8Array(200)) < 0, 'no key → negative');
    const p = await pair();
    const sealed = seal(p.xy, payload(20, 2), p.x.overhead);
    const before = totalDrops(p.yx);
    assert.is(p.yx.open(sealed, p.x.overhead - 1, new Uint8Array(100)), DropReason.short);
    assert.is(p.yx.open(new Uint8Array(0), 0, new Uint8Array(100)), DropReason.short);
    assert.is(totalDrops(p.yx), before + 2, 'short drops are counted');
    delivers(p.yx, sealed, payload(20, 2), 'the full packet still opens');
  });

  test('both directions work, with different SPIs: a packet reflected to its sender is dropped', async () => {
    const p = await pair();
    const a = seal(p.xy, payload(40, 3), p.x.overhead);
    const b = seal(p.yx, payload(40, 4), p.x.overhead);
    assert.ok(open(p.xy, a) < 0, 'x does not accept its own packet back');
    delivers(p.yx, a, payload(40, 3), 'x → y');
    delivers(p.xy, b, payload(40, 4), 'y → x');
    const z = p.y.session('y', 'z');
    assert.ok(open(z, seal(p.xy, payload(40, 5), p.x.overhead)) < 0, 'a packet for the pair x→y is not accepted on y←z');
  });

  test('any flipped bit in header, body or tag is dropped and counted', async () => {
    const p = await pair();
    const plain = payload(64, 9);
    const sealed = seal(p.xy, plain, p.x.overhead);
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = sealed.slice();
        bad[i]! ^= bit;
        const before = totalDrops(p.yx);
        const r = open(p.yx, bad);
        assert.ok(r < 0, `byte ${i} bit ${bit}: dropped (got ${r})`);
        assert.is(totalDrops(p.yx), before + 1, `byte ${i}: drop counted`);
      }
    }
    if (dropCount(p.yx, 'auth') !== undefined) assert.ok(dropCount(p.yx, 'auth')! > 0, 'body/tag flips count as auth');
    delivers(p.yx, sealed, plain, 'the untouched packet still opens after the forgeries');
  });

  test('a replayed packet is dropped as DropReason.replay', async () => {
    const p = await pair();
    const sealed = seal(p.xy, payload(100, 1), p.x.overhead);
    delivers(p.yx, sealed, payload(100, 1), 'first copy');
    assert.is(open(p.yx, sealed), DropReason.replay);
    assert.is(open(p.yx, sealed), DropReason.replay);
    if (dropCount(p.yx, 'replay') !== undefined) assert.is(dropCount(p.yx, 'replay'), 2);
  });

  test('reordering inside the window is accepted, each packet once', async () => {
    const p = await pair();
    const pkts = Array.from({ length: 32 }, (_, i) => seal(p.xy, payload(50, i), p.x.overhead));
    const order = [5, 3, 31, 0, 1, 2, 30, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29];
    for (const i of order) delivers(p.yx, pkts[i]!, payload(50, i), `packet ${i} out of order`);
    for (const i of order) assert.is(open(p.yx, pkts[i]!), DropReason.replay, `packet ${i} again`);
  });

  test(`a packet ${W - 1} behind the newest is accepted; ${W} behind is dropped`, async () => {
    const p = await pair();
    const o = p.x.overhead;
    const one = new Uint8Array(1);
    const edgeOut = seal(p.xy, payload(1, 1), o); // seq s
    const lastIn = seal(p.xy, payload(1, 2), o); // seq s+1
    const scratch = new Uint8Array(1 + o);
    for (let i = 0; i < W - 2; i++) assert.ok(p.xy.seal(one, 1, scratch) > 0);
    const newest = seal(p.xy, payload(1, 3), o); // seq s+W
    delivers(p.yx, newest, payload(1, 3), 'newest');
    delivers(p.yx, lastIn, payload(1, 2), `${W - 1} behind`);
    assert.is(open(p.yx, edgeOut), DropReason.replay, `${W} behind`);
  });

  test('forged packets with huge sequence numbers do not move the window', async () => {
    const p = await pair();
    const o = p.x.overhead;
    const pkts = Array.from({ length: 8 }, (_, i) => seal(p.xy, payload(30, i), o));
    for (const i of [0, 1, 2, 3]) delivers(p.yx, pkts[i]!, payload(30, i), `packet ${i}`);
    // Same SPI, sequence numbers near 2^64 and far ahead: must fail the tag and change nothing.
    for (const hiByte of [0xff, 0x7f, 0x01]) {
      const forged = pkts[7]!.slice();
      forged.fill(hiByte, 4, 12);
      assert.ok(open(p.yx, forged) < 0, 'forged packet dropped');
    }
    const forged = pkts[6]!.slice();
    forged[11] = (forged[11]! + 100) & 0xff; // a small jump ahead, still forged
    assert.ok(open(p.yx, forged) < 0);
    delivers(p.yx, pkts[5]!, payload(30, 5), 'an in-window packet after the forgeries');
    delivers(p.yx, pkts[4]!, payload(30, 4), 'an older in-window packet after the forgeries');
    delivers(p.yx, pkts[7]!, payload(30, 7), 'the genuine packet whose header was forged');
    delivers(p.yx, pkts[6]!, payload(30, 6), 'its neighbour');
  });

  test('a packet under a key that has left the ring is dropped as DropReason.oldKey; an unknown SPI as unknownSpi', async () => {
    const p = await pair(testRing(1)); // [1,2,3], primary 2
    const under2 = seal(p.xy, payload(20, 1), p.x.overhead);
    p.x.setKeyRing(testRing(2));
    p.y.setKeyRing(testRing(2)); // [2,3,4]: 2 still received
    const under3 = seal(p.xy, payload(20, 2), p.x.overhead);
    p.x.setKeyRing(testRing(3));
    p.y.setKeyRing(testRing(3)); // [3,4,5]: 2 retired
    assert.is(open(p.yx, under2), DropReason.oldKey, 'key 2 is older than the ring');
    delivers(p.yx, under3, payload(20, 2), 'key 3 is still in the ring');
    const stranger = under3.slice();
    stranger[0]! ^= 0x5a;
    stranger[1]! ^= 0xa5;
    stranger[2]! ^= 0x3c;
    assert.is(open(p.yx, stranger), DropReason.unknownSpi, 'an SPI no ring ever had');
    if (dropCount(p.yx, 'oldKey') !== undefined) assert.is(dropCount(p.yx, 'oldKey'), 1);
  });

  test('rotation A,B,C → B,C,D → C,D,E loses no packet when nodes switch at different times', async () => {
    const [r1, r2, r3] = [testRing(1), testRing(2), testRing(3)];
    const p = await pair(r1);
    const o = p.x.overhead;
    let sent = 0;
    let got = 0;
    const inflight: { to: CipherSession; pkt: Uint8Array; plain: Uint8Array }[] = [];
    const send = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const a = payload(80, sent);
        inflight.push({ to: p.yx, pkt: seal(p.xy, a, o), plain: a });
        const b = payload(80, sent + 1);
        inflight.push({ to: p.xy, pkt: seal(p.yx, b, o), plain: b });
        sent += 2;
      }
    };
    // Deliver the oldest half, keep the rest in flight across the next ring change.
    const deliver = (all = false): void => {
      const k = all ? inflight.length : Math.ceil(inflight.length / 2);
      for (const f of inflight.splice(0, k)) {
        delivers(f.to, f.pkt, f.plain, `packet ${got}`);
        got++;
      }
    };
    send(5);
    deliver();
    p.x.setKeyRing(r2); // x sends C, y still sends B and has C for receive
    send(5);
    deliver();
    p.y.setKeyRing(r2);
    send(5);
    deliver();
    p.y.setKeyRing(r3); // now y leads: sends D, x has D for receive
    send(5);
    deliver();
    p.x.setKeyRing(r3);
    send(5);
    deliver(true);
    assert.is(got, sent, 'every packet sealed was opened');
    assert.is(totalDrops(p.xy) + totalDrops(p.yx), 0, 'no drops');
  });

  test('re-applying the installed ring is idempotent: replay state and sequence numbers survive', async () => {
    const p = await pair();
    const o = p.x.overhead;
    const a = seal(p.xy, payload(10, 1), o);
    const b = seal(p.xy, payload(10, 2), o);
    delivers(p.yx, b, payload(10, 2), 'b');
    const ring = testRing(1);
    p.x.setKeyRing({ keys: ring.keys.map((k) => ({ epoch: k.epoch, key: k.key.slice() })), primary: ring.primary });
    p.y.setKeyRing(ring);
    assert.is(open(p.yx, b), DropReason.replay, 'b is still a replay');
    delivers(p.yx, a, payload(10, 1), 'a, older but unseen, still opens');
    const c = seal(p.xy, payload(10, 3), o);
    delivers(p.yx, c, payload(10, 3), 'the sender did not restart its sequence');
  });

  test(`a plaintext of CIPHER_MAX_PLAINTEXT (${CIPHER_MAX_PLAINTEXT}) bytes seals and opens; sealed packets never start with the VXLAN flags word; bytes 8..11 differ between seals`, async () => {
    const p = await pair();
    const o = p.x.overhead;
    const big = payload(CIPHER_MAX_PLAINTEXT, 5);
    delivers(p.yx, seal(p.xy, big, o), big, 'largest plaintext');
    const ids = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const s = seal(p.xy, payload(20, i), o);
      assert.ok(o < 12 || s.length < 4 || new DataView(s.buffer).getUint32(0) !== VXLAN_FLAGS_WORD, 'not mistaken for plaintext VXLAN');
      if (o >= 12) ids.add(new DataView(s.buffer).getUint32(8));
    }
    if (o >= 12) assert.is(ids.size, 64, 'bytes 8..11 (the fragment group id of a VXLAN data path) differ between seals');
  });

  test('the worker module (Cipher.worker), when named, loads and interoperates with the service both ways', async () => {
    const x = await factory();
    if (x.worker === undefined) return;
    assert.ok(typeof x.worker.module === 'string' && x.worker.module.length > 0, 'worker.module names a module');
    const spec = structuredClone(x.worker); // what a thread receives through workerData
    const w = await loadWorkerCipher(spec);
    assert.is(w.overhead, x.overhead, 'same overhead in the thread');
    const ring = testRing(1);
    const y = await factory();
    w.setKeyRing(ring);
    y.setKeyRing(ring);
    const o = x.overhead;
    const wy = w.session('x', 'y');
    const yx = y.session('y', 'x');
    for (let i = 0; i < 3; i++) delivers(yx, seal(wy, payload(300, i), o), payload(300, i), `thread → service ${i}`);
    for (let i = 0; i < 3; i++) delivers(wy, seal(yx, payload(300, i + 9), o), payload(300, i + 9), `service → thread ${i}`);
    w.close?.();
  });

  test('counters: sealed and opened packets are counted', async () => {
    const p = await pair();
    for (let i = 0; i < 5; i++) open(p.yx, seal(p.xy, payload(100, i), p.x.overhead));
    const s = p.xy.stats;
    const r = p.yx.stats;
    if (s['sealedPackets'] !== undefined) assert.is(Number(s['sealedPackets']), 5);
    if (r['openedPackets'] !== undefined) assert.is(Number(r['openedPackets']), 5);
    assert.is(totalDrops(p.yx), 0);
  });

  test.run();
}
