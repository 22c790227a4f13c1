import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sodium from 'libsodium-wrappers';
import { DropReason, type KeyRing } from '@weft/kernel';
import { createCipher, createCipherWith } from './cipher.ts';
import { libsodiumWrappers, loadLibsodiumFfi, loadSodiumNative, sodiumNative, type SodiumAead as Aead } from './backend.ts';
import { systemHasLibsodium } from './testutil.ts';
import { OVERHEAD } from '@weft/envelope';
import { testKey, testRing } from '@weft/testing';

await sodium.ready;

const native = await loadSodiumNative();
const backends: [string, () => Aead][] = [
  ['wasm-heap', () => libsodiumWrappers('wasm-heap')],
  ['api', () => libsodiumWrappers('api')],
];
if (!(native instanceof Error)) backends.push(['native', () => sodiumNative(native)]);
const ffi = await loadLibsodiumFfi();
if (!(ffi instanceof Error)) backends.push(['ffi', () => ffi]);

const enc = new TextEncoder();

/** The derivations of WIRE.md, written out independently with the plain libsodium-wrappers API. */
function info(label: string, epoch: number, src: string, dst: string): Uint8Array {
  const l = enc.encode(label);
  const s = enc.encode(src);
  const d = enc.encode(dst);
  const b = new Uint8Array(l.length + 1 + 8 + 2 + s.length + 2 + d.length);
  const v = new DataView(b.buffer);
  b.set(l);
  v.setBigUint64(l.length + 1, BigInt(epoch));
  v.setUint16(l.length + 9, s.length);
  b.set(s, l.length + 11);
  v.setUint16(l.length + 11 + s.length, d.length);
  b.set(d, l.length + 13 + s.length);
  return b;
}
function referenceSeal(dataKey: Uint8Array, epoch: number, src: string, dst: string, seq: bigint, plain: Uint8Array): Uint8Array {
  const spiK = sodium.crypto_generichash(32, enc.encode('weft-esp-spik-v1'), dataKey);
  const h = sodium.crypto_generichash(32, info('weft-esp-spi-v1', epoch, src, dst), spiK);
  let spi = new DataView(h.buffer, h.byteOffset).getUint32(0);
  if (spi < 256) spi += 256;
  const k = sodium.crypto_generichash(32, info('weft-esp-key-v1', epoch, src, dst), dataKey);
  const hdr = new Uint8Array(12);
  new DataView(hdr.buffer).setUint32(0, spi);
  new DataView(hdr.buffer).setBigUint64(4, seq);
  const body = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plain, hdr, null, hdr, k);
  const out = new Uint8Array(12 + body.length);
  out.set(hdr);
  out.set(body, 12);
  return out;
}

test('the envelope is exactly what WIRE.md specifies, on every backend', () => {
  const T = 1_800_000_000_123; // ms
  const seq0 = BigInt(T) * 2n ** 22n;
  const plain = enc.encode('hello, overlay');
  for (const [name, mk] of backends) {
    const c = createCipherWith(mk(), { now: () => T });
    c.setKeyRing(testRing(7)); // primary = epoch 8
    const s = c.session('10.0.0.1', '10.0.0.2');
    const out = new Uint8Array(plain.length + OVERHEAD);
    for (let i = 0n; i < 3n; i++) {
      const n = s.seal(plain, plain.length, out);
      assert.equal(out.subarray(0, n), referenceSeal(testKey(8).key, 8, '10.0.0.1', '10.0.0.2', seq0 + i, plain), `${name}: packet ${i}`);
    }
  }
});

test('backends interoperate: every sender with every receiver', () => {
  const ring = testRing(1);
  for (const [a, mkA] of backends) {
    for (const [b, mkB] of backends) {
      const x = createCipherWith(mkA());
      const y = createCipherWith(mkB());
      x.setKeyRing(ring);
      y.setKeyRing(ring);
      const plain = new Uint8Array(1400).map((_, i) => i * 7);
      const sealed = new Uint8Array(1400 + OVERHEAD);
      const out = new Uint8Array(1400);
      const n = x.session('x', 'y').seal(plain, 1400, sealed);
      assert.is(y.session('y', 'x').open(sealed, n, out), 1400, `${a} → ${b}`);
      assert.equal(out, plain);
    }
  }
});

test('the system libsodium loads through FFI wherever it is installed', () => {
  if (ffi instanceof Error) {
    assert.not.ok(systemHasLibsodium(), `libsodium is installed but libsodium-ffi did not load: ${ffi.message}`);
    console.log(`  skipped: no system libsodium (apt-get install libsodium23): ${ffi.message}`);
  } else {
    assert.is(ffi.name, 'libsodium-ffi');
  }
});

test('libsodium-ffi checks every length before C writes: too small an output is refused, never overrun', () => {
  if (ffi instanceof Error) return;
  const key = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(12).fill(2);
  const src = new Uint8Array(64).fill(3);
  const out = new Uint8Array(80 + 8);
  assert.throws(() => ffi.seal(out, 9, src, 64, nonce, key), /does not fit/);
  assert.throws(() => ffi.seal(out, 0, src, 65, nonce, key), /does not fit/);
  ffi.seal(out, 8, src, 64, nonce, key);
  const small = new Uint8Array(63);
  assert.is(ffi.open(small, out, 8, 80, nonce, key), false);
  assert.is(ffi.open(new Uint8Array(64), out, 9, 80, nonce, key), false, 'past the end of the source');
  const back = new Uint8Array(64);
  assert.ok(ffi.open(back, out, 8, 80, nonce, key));
  assert.equal(back, src);
});

test('createCipher picks sodium-native when it loads, else libsodium-ffi, else libsodium-wrappers; explicit choices are honoured', async () => {
  const auto = await createCipher();
  assert.is(auto.backend, !(native instanceof Error) ? 'sodium-native' : !(ffi instanceof Error) ? 'libsodium-ffi' : 'libsodium-wrappers');
  if (!(ffi instanceof Error)) assert.is((await createCipher({ backend: 'libsodium-ffi' })).backend, 'libsodium-ffi');
  const w = await createCipher({ backend: 'libsodium-wrappers' });
  assert.is(w.backend, 'libsodium-wrappers');
  assert.is(w.mode, 'wasm-heap');
  assert.is((await createCipher({ backend: 'libsodium-wrappers', wrappersMode: 'api' })).mode, 'api');
  if (native instanceof Error) {
    try {
      await createCipher({ backend: 'sodium-native' });
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.match(String(e), /cannot be loaded/);
    }
  } else {
    assert.is((await createCipher({ backend: 'sodium-native' })).backend, 'sodium-native');
  }
});

test('bad rings are refused with a message that quotes the problem', () => {
  const c = createCipherWith(libsodiumWrappers());
  const k = (epoch: number, n = 32): { epoch: number; key: Uint8Array } => ({ epoch, key: new Uint8Array(n).fill(epoch) });
  const bad: [KeyRing, RegExp][] = [
    [{ keys: [], primary: 0 }, /0 keys/],
    [{ keys: [k(1), k(2), k(3), k(4)], primary: 1 }, /4 keys/],
    [{ keys: [k(1)], primary: 1 }, /primary 1/],
    [{ keys: [k(1), k(1)], primary: 0 }, /epoch 1 appears twice/],
    [{ keys: [k(1, 8)], primary: 0 }, /8 bytes/],
    [{ keys: [k(-1)], primary: 0 }, /epoch -1/],
  ];
  for (const [ring, re] of bad) assert.throws(() => c.setKeyRing(ring), re);
  c.setKeyRing(testRing(5));
  assert.throws(() => c.setKeyRing(testRing(2)), /refusing to roll back/);
  assert.equal(c.epochs, [5, 6, 7]);
  assert.is(c.primaryEpoch, 6);
});

test('one session per pair; SPIs agree between the two ends and differ per direction and epoch', () => {
  const x = createCipherWith(libsodiumWrappers());
  const y = createCipherWith(libsodiumWrappers());
  x.setKeyRing(testRing(1));
  y.setKeyRing(testRing(1));
  assert.is(x.session('x', 'y'), x.session('x', 'y'));
  const xs = x.session('x', 'y').spis();
  const ys = y.session('y', 'x').spis();
  assert.ok(xs.tx !== undefined && ys.tx !== undefined);
  assert.ok(ys.rx.some((r) => r.spi === xs.tx!.spi && r.epoch === 2), "y's rx SAs include x's tx SPI");
  assert.ok(xs.rx.some((r) => r.spi === ys.tx!.spi), "x's rx SAs include y's tx SPI");
  assert.is.not(xs.tx.spi, ys.tx.spi, 'directions differ');
  assert.is(new Set(xs.rx.map((r) => r.spi)).size, 3, 'epochs differ');
});

test('sequence numbers start at clock ms × 2^22: a restarted sender never reuses a nonce and is accepted', () => {
  let now = 1_700_000_000_000;
  const ring = testRing(1);
  const rx = createCipherWith(libsodiumWrappers(), { now: () => now });
  rx.setKeyRing(ring);
  const r = rx.session('y', 'x');
  const plain = new Uint8Array(64);
  const sealed = new Uint8Array(64 + OVERHEAD);
  const out = new Uint8Array(64);
  const headers = new Set<string>();
  for (let run = 0; run < 3; run++) {
    const tx = createCipherWith(libsodiumWrappers(), { now: () => now });
    tx.setKeyRing(ring);
    const s = tx.session('x', 'y');
    for (let i = 0; i < 1000; i++) {
      const n = s.seal(plain, 64, sealed);
      const h = sodium.to_hex(sealed.subarray(0, 12));
      assert.not.ok(headers.has(h), `run ${run}: nonce reused`);
      headers.add(h);
      assert.is(r.open(sealed, n, out), 64, `run ${run} packet ${i}`);
    }
    now += 1; // a restart one millisecond later
  }
  assert.is(r.stats['openedPackets'], 3000);
});

test('stats: counters, epochs, SA age from the injected clock', () => {
  let now = 1000;
  const x = createCipherWith(libsodiumWrappers(), { now: () => now });
  const y = createCipherWith(libsodiumWrappers(), { now: () => now });
  x.setKeyRing(testRing(1));
  y.setKeyRing(testRing(1));
  const xy = x.session('x', 'y');
  const yx = y.session('y', 'x');
  const sealed = new Uint8Array(200);
  const out = new Uint8Array(200);
  const n = xy.seal(new Uint8Array(100), 100, sealed);
  assert.is(yx.open(sealed, n, out), 100);
  assert.is(yx.open(sealed, n, out), DropReason.replay);
  assert.is(yx.open(sealed, n, new Uint8Array(10)), DropReason.replay, 'replay is decided before the size check');
  const n2 = xy.seal(new Uint8Array(100), 100, sealed);
  assert.is(yx.open(sealed, n2, new Uint8Array(10)), DropReason.tooBig);
  now += 2500;
  const s = xy.stats;
  assert.is(s['sealedPackets'], 2);
  assert.is(s['sealedBytes'], 200);
  assert.is(s['txEpoch'], 2);
  assert.is(s['saAgeMs'], 2500);
  const r = yx.stats;
  assert.is(r['openedPackets'], 1);
  assert.is(r['openedBytes'], 100);
  assert.is(r['drop.replay'], 2);
  assert.is(r['drop.tooBig'], 1);
  assert.is(r['dropped'], 3);
  assert.is(r['rxEpochsSeen'], 1);
  assert.is(r['rxEpochLast'], 2);
  x.setKeyRing(testRing(2));
  assert.is(xy.stats['saAgeMs'], 0, 'a new tx SA starts its age at 0');
  assert.is(xy.stats['txEpoch'], 3);
});

test('garbage and truncated packets never throw and never open; bad seal arguments fail cleanly', () => {
  for (const [name, mk] of backends) {
    const x = createCipherWith(mk());
    const y = createCipherWith(mk());
    x.setKeyRing(testRing(1));
    y.setKeyRing(testRing(1));
    const xy = x.session('x', 'y');
    const yx = y.session('y', 'x');
    const good = new Uint8Array(100 + OVERHEAD);
    const n = xy.seal(new Uint8Array(100), 100, good);
    const out = new Uint8Array(300);
    let seed = 99;
    const rnd = (m: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % m;
    for (let i = 0; i < 500; i++) {
      const len = rnd(200);
      const g = new Uint8Array(len).map(() => rnd(256));
      if (i % 2 === 0 && len >= 4) g.set(good.subarray(0, 4)); // a valid SPI on half of them
      assert.ok(yx.open(g, len, out) < 0, `${name}: garbage ${i} (${len} bytes)`);
    }
    for (let cut = 0; cut < n; cut += 7) assert.ok(yx.open(good, cut, out) < 0, `${name}: truncated to ${cut}`);
    assert.ok(yx.open(good, n + 1, out) < 0, `${name}: len beyond the buffer`);
    assert.is(yx.open(good, n, out), 100, `${name}: the real packet still opens`);
    assert.ok(xy.seal(new Uint8Array(10), 11, new Uint8Array(100)) < 0, `${name}: len beyond the plaintext buffer`);
    assert.ok(xy.seal(new Uint8Array(70000), 70000, new Uint8Array(70100)) < 0, `${name}: plaintext over 65535 bytes`);
  }
});

test('close zeroes key material and refuses further use', () => {
  const c = createCipherWith(libsodiumWrappers());
  const ring = testRing(1);
  c.setKeyRing(ring);
  c.session('a', 'b');
  c.close();
  assert.throws(() => c.session('a', 'c'), /closed/);
  assert.throws(() => c.setKeyRing(ring), /closed/);
  assert.ok(ring.keys[0]!.key.some((b) => b !== 0), "the caller's key buffers are copies, left alone");
});

test.run();
