/**
 * The three libsodium bindings behind one small interface. Everything above this file is
 * backend-agnostic and produces the same bytes on the wire.
 *
 * - `sodium-native` (N-API addon): encrypts straight into the caller's buffers; the only
 *   per-packet allocations are two typed-array views (`subarray`), no data copies.
 * - `libsodium-ffi`: the system's libsodium (Debian `libsodium23`) called through FFI
 *   (`openLibrary` of @weft/sys: koffi, Deno.dlopen or bun:ffi), straight into the caller's
 *   buffers like sodium-native, with no addon: the fast path under Deno and in the single-file agent.
 * - `libsodium-wrappers` (WebAssembly, runs in Node and Deno):
 *   - `wasm-heap` mode (default when the wrapper exposes its Emscripten module, as 0.8.x does):
 *     a scratch region is reserved in the WASM heap once; per packet the key, header and payload
 *     are copied in, the raw `_crypto_aead_chacha20poly1305_ietf_*` export runs in place, and the
 *     result is copied out. No malloc/free per packet, two copies of the payload.
 *   - `api` mode (fallback): the public wrapper functions, which malloc, copy and return a fresh
 *     `Uint8Array` on every call. Slowest; kept because it relies only on the documented API.
 */
import sodium from 'libsodium-wrappers';
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, MAX_PLAINTEXT, type Aead } from '@weft/envelope';
import { openLibrary } from '@weft/sys';

await sodium.ready;

export type BackendName = 'sodium-native' | 'libsodium-ffi' | 'libsodium-wrappers';
export type BackendChoice = 'auto' | BackendName;

/** ChaCha20-Poly1305 (IETF, RFC 8439) sizes: the envelope's (32-byte key, 12-byte nonce, 16-byte tag). */
export { KEY_BYTES, NONCE_BYTES, TAG_BYTES, MAX_PLAINTEXT } from '@weft/envelope';

/** A libsodium backend: the envelope's `Aead` (hash = keyed BLAKE2b, `crypto_generichash`) plus a CSPRNG. */
export interface SodiumAead extends Aead {
  readonly name: BackendName;
  random(n: number): Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// libsodium-wrappers

interface EmscriptenSodium {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _crypto_aead_chacha20poly1305_ietf_encrypt(...args: number[]): number;
  _crypto_aead_chacha20poly1305_ietf_decrypt(...args: number[]): number;
}

function emscripten(): EmscriptenSodium | undefined {
  const m = (sodium as unknown as { libsodium?: Partial<EmscriptenSodium> }).libsodium;
  if (
    m !== undefined &&
    m.HEAPU8 instanceof Uint8Array &&
    typeof m._malloc === 'function' &&
    typeof m._crypto_aead_chacha20poly1305_ietf_encrypt === 'function' &&
    typeof m._crypto_aead_chacha20poly1305_ietf_decrypt === 'function'
  ) {
    return m as EmscriptenSodium;
  }
  return undefined;
}

const wrapperHash = (out: Uint8Array, msg: Uint8Array, key: Uint8Array): void => {
  out.set(sodium.crypto_generichash(out.length, msg, key));
};

/** `wasm-heap` when possible (fast), `api` when asked or when the Emscripten module is hidden. */
export function libsodiumWrappers(mode: 'wasm-heap' | 'api' = 'wasm-heap'): SodiumAead {
  const em = mode === 'wasm-heap' ? emscripten() : undefined;
  if (em === undefined) {
    return {
      name: 'libsodium-wrappers',
      mode: 'api',
      seal(out, outOff, src, len, nonce, key) {
        const c = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(src.subarray(0, len), nonce, null, nonce, key);
        out.set(c, outOff);
      },
      open(out, src, srcOff, clen, nonce, key) {
        let m: Uint8Array;
        try {
          m = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, src.subarray(srcOff, srcOff + clen), nonce, nonce, key);
        } catch {
          return false;
        }
        out.set(m, 0);
        return true;
      },
      hash: wrapperHash,
      random: (n) => sodium.randombytes_buf(n),
      wipe() {},
    };
  }
  // One scratch region for the life of the process: [key 32][nonce 12][payload MAX+16].
  const base = em._malloc(KEY_BYTES + NONCE_BYTES + MAX_PLAINTEXT + TAG_BYTES);
  if (base === 0) throw new Error('sodium: cannot reserve WASM scratch memory; use backend "sodium-native" or mode "api"');
  const kPtr = base;
  const nPtr = base + KEY_BYTES;
  const mPtr = nPtr + NONCE_BYTES;
  const enc = em._crypto_aead_chacha20poly1305_ietf_encrypt;
  const dec = em._crypto_aead_chacha20poly1305_ietf_decrypt;
  return {
    name: 'libsodium-wrappers',
    mode: 'wasm-heap',
    seal(out, outOff, src, len, nonce, key) {
      // HEAPU8 is re-read on every call: it is replaced when the WASM memory grows.
      const heap = em.HEAPU8;
      heap.set(key, kPtr);
      heap.set(nonce, nPtr);
      heap.set(len === src.length ? src : src.subarray(0, len), mPtr);
      // (c, clen_p, m, mlen_lo, mlen_hi, ad, adlen_lo, adlen_hi, nsec, npub, k); in place (c == m) is supported.
      if (enc(mPtr, 0, mPtr, len, 0, nPtr, NONCE_BYTES, 0, 0, nPtr, kPtr) !== 0) throw new Error('sodium: encryption failed');
      out.set(em.HEAPU8.subarray(mPtr, mPtr + len + TAG_BYTES), outOff);
    },
    open(out, src, srcOff, clen, nonce, key) {
      const heap = em.HEAPU8;
      heap.set(key, kPtr);
      heap.set(nonce, nPtr);
      heap.set(src.subarray(srcOff, srcOff + clen), mPtr);
      // (m, mlen_p, nsec, c, clen_lo, clen_hi, ad, adlen_lo, adlen_hi, npub, k)
      if (dec(mPtr, 0, 0, mPtr, clen, 0, nPtr, NONCE_BYTES, 0, nPtr, kPtr) !== 0) return false;
      out.set(em.HEAPU8.subarray(mPtr, mPtr + clen - TAG_BYTES), 0);
      return true;
    },
    hash: wrapperHash,
    random: (n) => sodium.randombytes_buf(n),
    wipe() {
      em.HEAPU8.fill(0, base, mPtr + MAX_PLAINTEXT + TAG_BYTES);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// sodium-native

interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_generichash(out: Uint8Array, msg: Uint8Array, key?: Uint8Array): void;
  randombytes_buf(buf: Uint8Array): void;
}

let nativeLoad: Promise<SodiumNative | Error> | undefined;

/** Loads `sodium-native` once; resolves to the Error when it is not installed or cannot load (Deno, no prebuild). */
export function loadSodiumNative(): Promise<SodiumNative | Error> {
  nativeLoad ??= (async () => {
    try {
      // A variable specifier: the package is optional and has no type declarations.
      const specifier = 'sodium-native';
      const mod = (await import(specifier)) as { default?: SodiumNative } & Partial<SodiumNative>;
      const s = (mod.default ?? mod) as Partial<SodiumNative>;
      if (typeof s.crypto_aead_chacha20poly1305_ietf_encrypt !== 'function') return new Error('sodium-native loaded without chacha20poly1305_ietf');
      return s as SodiumNative;
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  })();
  return nativeLoad;
}

export function sodiumNative(s: SodiumNative): SodiumAead {
  return {
    name: 'sodium-native',
    mode: 'native',
    seal(out, outOff, src, len, nonce, key) {
      s.crypto_aead_chacha20poly1305_ietf_encrypt(out.subarray(outOff, outOff + len + TAG_BYTES), len === src.length ? src : src.subarray(0, len), nonce, null, nonce, key);
    },
    open(out, src, srcOff, clen, nonce, key) {
      try {
        const m = out.length === clen - TAG_BYTES ? out : out.subarray(0, clen - TAG_BYTES);
        s.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, src.subarray(srcOff, srcOff + clen), nonce, nonce, key);
        return true;
      } catch {
        // sodium-native throws "could not verify data" on a bad tag.
        return false;
      }
    },
    hash(out, msg, key) {
      s.crypto_generichash(out, msg, key);
    },
    random(n) {
      const b = new Uint8Array(n);
      s.randombytes_buf(b);
      return b;
    },
    wipe() {},
  };
}

// ---------------------------------------------------------------------------------------------
// libsodium-ffi

/** Where the system's libsodium is looked for (Debian 12: libsodium23 installs libsodium.so.23). */
export const LIBSODIUM_NAMES = ['libsodium.so.23', 'libsodium.so'] as const;

const SODIUM_SYMBOLS = {
  sodium_init: { args: [], result: 'i32' },
  // (c, clen_p, m, mlen, ad, adlen, nsec, npub, k)
  crypto_aead_chacha20poly1305_ietf_encrypt: { args: ['buf', 'buf', 'buf', 'u64', 'buf', 'u64', 'buf', 'buf', 'buf'], result: 'i32' },
  // (m, mlen_p, nsec, c, clen, ad, adlen, npub, k)
  crypto_aead_chacha20poly1305_ietf_decrypt: { args: ['buf', 'buf', 'buf', 'buf', 'u64', 'buf', 'u64', 'buf', 'buf'], result: 'i32' },
  // (out, outlen, in, inlen, key, keylen)
  crypto_generichash: { args: ['buf', 'u64', 'buf', 'u64', 'buf', 'u64'], result: 'i32' },
  randombytes_buf: { args: ['buf', 'u64'], result: 'void' },
} as const;

let ffiLoad: Promise<SodiumAead | Error> | undefined;

/** The system's libsodium through FFI, loaded once; resolves to the Error when it is not installed or FFI is not allowed. */
export function loadLibsodiumFfi(): Promise<SodiumAead | Error> {
  ffiLoad ??= (async () => {
    try {
      const s = await openLibrary(LIBSODIUM_NAMES, SODIUM_SYMBOLS);
      if (s.sodium_init() < 0) return new Error('sodium_init() failed');
      return libsodiumFfi(s);
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  })();
  return ffiLoad;
}

function libsodiumFfi(s: { readonly [K in keyof typeof SODIUM_SYMBOLS]: (...a: (number | Uint8Array | null)[]) => number }): SodiumAead {
  const enc = s.crypto_aead_chacha20poly1305_ietf_encrypt;
  const dec = s.crypto_aead_chacha20poly1305_ietf_decrypt;
  return {
    name: 'libsodium-ffi',
    mode: 'ffi',
    // C writes where it is told: every length is checked against its buffer first.
    seal(out, outOff, src, len, nonce, key) {
      if (len > src.length || outOff + len + TAG_BYTES > out.length || nonce.length !== NONCE_BYTES || key.length !== KEY_BYTES) {
        throw new RangeError(`sodium: seal of ${len} bytes does not fit (source ${src.length}, output ${out.length} at ${outOff}, nonce ${nonce.length}, key ${key.length})`);
      }
      // The nonce is also the associated data (as in the other backends).
      if (enc(outOff === 0 ? out : out.subarray(outOff), null, src, len, nonce, NONCE_BYTES, null, nonce, key) !== 0) throw new Error('sodium: encryption failed');
    },
    open(out, src, srcOff, clen, nonce, key) {
      if (clen < TAG_BYTES || srcOff + clen > src.length || clen - TAG_BYTES > out.length || nonce.length !== NONCE_BYTES || key.length !== KEY_BYTES) return false;
      return dec(out, null, null, srcOff === 0 ? src : src.subarray(srcOff), clen, nonce, NONCE_BYTES, nonce, key) === 0;
    },
    hash(out, msg, key) {
      if (s.crypto_generichash(out, out.length, msg, msg.length, key, key.length) !== 0) throw new Error(`sodium: crypto_generichash failed (output ${out.length} bytes, key ${key.length} bytes)`);
    },
    random(n) {
      const b = new Uint8Array(n);
      s.randombytes_buf(b, n);
      return b;
    },
    wipe() {},
  };
}

/**
 * `auto`: sodium-native if it loads, else the system's libsodium through FFI, else
 * libsodium-wrappers (WebAssembly, always there). An explicit choice that cannot load throws.
 */
export async function loadBackend(choice: BackendChoice = 'auto', wrappersMode: 'wasm-heap' | 'api' = 'wasm-heap'): Promise<SodiumAead> {
  if (choice === 'libsodium-wrappers') return libsodiumWrappers(wrappersMode);
  if (choice === 'libsodium-ffi') {
    const ffi = await loadLibsodiumFfi();
    if (ffi instanceof Error) {
      throw new Error(`sodium: backend "libsodium-ffi" cannot be loaded (${ffi.message}); install the system's libsodium (apt-get install libsodium23), allow FFI (deno: --allow-ffi), or set backend to "libsodium-wrappers" or "auto"`);
    }
    return ffi;
  }
  const native = await loadSodiumNative();
  if (!(native instanceof Error)) return sodiumNative(native);
  if (choice === 'sodium-native') {
    throw new Error(`sodium: backend "sodium-native" cannot be loaded (${native.message}); install it (npm install sodium-native) or set backend to "libsodium-ffi", "libsodium-wrappers" or "auto"`);
  }
  const ffi = await loadLibsodiumFfi();
  if (!(ffi instanceof Error)) return ffi;
  return libsodiumWrappers(wrappersMode);
}
