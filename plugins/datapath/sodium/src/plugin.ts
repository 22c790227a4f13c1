/**
 * The plugin: provides the kernel `cipher` service. Configuration is decoded by the kernel at load.
 */
import * as t from 'io-ts';
import { definePlugin } from '@weft/kernel';
import { createCipher, type SodiumCipher } from './cipher.ts';

export const SodiumConfig = t.partial({
  /** `auto` (default), `sodium-native` or `libsodium-wrappers`. */
  backend: t.union([t.literal('auto'), t.literal('sodium-native'), t.literal('libsodium-wrappers')]),
  /** libsodium-wrappers only: `wasm-heap` (default) or `api`. */
  wrappersMode: t.union([t.literal('wasm-heap'), t.literal('api')]),
  /** Anti-replay window in packets (power of two, 2^10..2^24; default 2^16). */
  replayWindow: t.number,
  /** Retired epochs remembered for `oldKey` accounting (default 8). */
  retiredEpochs: t.number,
});
export type SodiumConfig = t.TypeOf<typeof SodiumConfig>;

export const sodiumPlugin = definePlugin<SodiumConfig>({
  manifest: {
    name: 'sodium',
    version: '0.1.0',
    kernel: '^0.1.0',
    provides: ['cipher'],
    description: 'ESP-like ChaCha20-Poly1305 envelopes on libsodium with a three-key ring and a 64-bit anti-replay window',
    config: SodiumConfig,
  },
  services: {
    cipher: async (ctx) => {
      const c = ctx.config ?? {};
      const cipher = await createCipher({
        ...(c.backend !== undefined ? { backend: c.backend } : {}),
        ...(c.wrappersMode !== undefined ? { wrappersMode: c.wrappersMode } : {}),
        ...(c.replayWindow !== undefined ? { replayWindow: c.replayWindow } : {}),
        ...(c.retiredEpochs !== undefined ? { retiredEpochs: c.retiredEpochs } : {}),
        now: () => ctx.now(),
      });
      ctx.log.info('cipher ready', { backend: cipher.backend, mode: cipher.mode, overhead: cipher.overhead });
      return cipher;
    },
  },
  /** Zeroes every key the cipher holds (data keys, SA keys, WASM scratch). */
  stop: (ctx) => {
    if (!ctx.services.has('cipher')) return;
    const c = ctx.services.get('cipher') as Partial<SodiumCipher>;
    c.close?.();
  },
});

export default sodiumPlugin;
