/**
 * @weft/sodium — the kernel `cipher` service on libsodium: ESP-like ChaCha20-Poly1305 envelopes
 * (see ../WIRE.md), a three-key ring with lossless rotation, a 64-bit anti-replay window, and
 * manager-side key helpers.
 */
export { sodiumPlugin, sodiumPlugin as default, SodiumConfig } from './plugin.ts';
export { createCipher, createCipherWith, ringProblem, SodiumSession, DEFAULT_RETIRED_EPOCHS, type SodiumCipher, type SodiumCipherOptions } from './cipher.ts';
export { loadBackend, loadSodiumNative, libsodiumWrappers, sodiumNative, MAX_PLAINTEXT, type Aead, type BackendChoice, type BackendName } from './backend.ts';
export { HEADER_BYTES, OVERHEAD, SPI_BYTES, SEQ_BYTES } from './envelope.ts';
export { ReplayWindow, DEFAULT_WINDOW, MIN_WINDOW, MAX_WINDOW } from './replay.ts';
export {
  generateDataKey,
  initialRing,
  rotate,
  toKeyRing,
  primaryIndex,
  newestEpoch,
  rotationDue,
  VolumeMeter,
  DEFAULT_ROTATION_LIMITS,
  DATA_KEY_BYTES,
  type ManagedRing,
  type RotationLimits,
  type RotationReason,
} from './keys.ts';
