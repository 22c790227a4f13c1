/**
 * @weft/sodium — the kernel `cipher` service on libsodium: ESP-like ChaCha20-Poly1305 envelopes
 * (see ../WIRE.md; the envelope, replay window and ring handling are @weft/envelope's), with
 * sodium-native or libsodium-wrappers as the backend. Key-ring rotation is the control plane's
 * (`rotate`, `initialRing`, `toKeyRing` in @weft/kernel).
 */
export { sodiumPlugin, sodiumPlugin as default, SodiumConfig } from './plugin.ts';
export { createCipher, createCipherWith, SODIUM_LABELS, SODIUM_WORKER_MODULE } from './cipher.ts';
export type { SodiumCipher, SodiumSession, SodiumCipherOptions, SodiumWorkerConfig } from './cipher.ts';
export { loadBackend, loadSodiumNative, libsodiumWrappers, sodiumNative } from './backend.ts';
export type { SodiumAead, BackendChoice, BackendName } from './backend.ts';
