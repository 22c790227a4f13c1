/**
 * The plugin: provides the kernel `cipher` service. Configuration is decoded by the kernel at load.
 */
import { definePlugin } from '@weft/kernel';
import { createCipher } from './cipher.ts';
import { SodiumConfig } from './config.ts';

export { SodiumConfig } from './config.ts';

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
    ctx.services.get('cipher').close?.();
  },
});

export default sodiumPlugin;
