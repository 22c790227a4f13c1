/** The plugin's configuration codec (decoded by the kernel at load, and again by each data-path thread). */
import * as t from 'io-ts';

export const SodiumConfig = t.partial({
  /** `auto` (default), `sodium-native`, `libsodium-ffi` (the system's libsodium) or `libsodium-wrappers`. */
  backend: t.union([t.literal('auto'), t.literal('sodium-native'), t.literal('libsodium-ffi'), t.literal('libsodium-wrappers')]),
  /** libsodium-wrappers only: `wasm-heap` (default) or `api`. */
  wrappersMode: t.union([t.literal('wasm-heap'), t.literal('api')]),
  /** Anti-replay window in packets (power of two, 2^10..2^24; default 2^16). */
  replayWindow: t.number,
  /** Retired epochs remembered for `oldKey` accounting (default 8). */
  retiredEpochs: t.number,
});
export type SodiumConfig = t.TypeOf<typeof SodiumConfig>;
