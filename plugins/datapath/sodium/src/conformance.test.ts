/** Runs the shared cipher conformance suite against every backend this runtime can load. */
import { testCipher } from '@weft/testing';
import { createCipher, createCipherWith } from './cipher.ts';
import { libsodiumWrappers, loadLibsodiumFfi, loadSodiumNative, sodiumNative } from './backend.ts';

const native = await loadSodiumNative();
const ffi = await loadLibsodiumFfi();

testCipher('sodium (sodium-native)', () => createCipherWith(sodiumNative(native as Exclude<typeof native, Error>)), {
  skip: native instanceof Error ? `sodium-native cannot load here (${native.message.split('\n')[0]})` : false,
});
testCipher('sodium (libsodium-ffi, the system libsodium)', () => createCipherWith(ffi as Exclude<typeof ffi, Error>), {
  skip: ffi instanceof Error ? `the system libsodium cannot load here (${ffi.message.split('\n')[0]})` : false,
});
testCipher('sodium (libsodium-wrappers, wasm-heap)', () => createCipherWith(libsodiumWrappers('wasm-heap')));
testCipher('sodium (libsodium-wrappers, api)', () => createCipherWith(libsodiumWrappers('api')));
testCipher('sodium (libsodium-wrappers, window 2^17)', () => createCipherWith(libsodiumWrappers('wasm-heap'), { replayWindow: 1 << 17 }), { window: 1 << 17 });
// As the plugin builds it: with the worker module a data-path thread loads (checked for interop).
testCipher('sodium (createCipher, with its worker module)', () => createCipher({ backend: 'libsodium-wrappers' }));
