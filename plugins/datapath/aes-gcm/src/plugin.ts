/** The plugin: provides the kernel `cipher` service. Configuration is decoded by the kernel at load. */
import { definePlugin } from '@weft/kernel';
import { createAesGcmCipher } from './cipher.ts';
import { AesGcmConfig } from './config.ts';

export { AesGcmConfig } from './config.ts';

export const aesGcmPlugin = definePlugin<AesGcmConfig>({
  manifest: {
    name: 'aes-gcm',
    version: '0.1.0',
    kernel: '^0.1.0',
    provides: ['cipher'],
    description: 'ESP-like AES-256-GCM envelopes through node:crypto with a three-key ring and a 64-bit anti-replay window',
    config: AesGcmConfig,
  },
  services: {
    cipher: (ctx) => {
      const c = ctx.config ?? {};
      const cipher = createAesGcmCipher({
        ...(c.replayWindow !== undefined ? { replayWindow: c.replayWindow } : {}),
        ...(c.retiredEpochs !== undefined ? { retiredEpochs: c.retiredEpochs } : {}),
        now: () => ctx.now(),
      });
      ctx.log.info('cipher ready', { backend: cipher.backend, mode: cipher.mode, overhead: cipher.overhead });
      return cipher;
    },
  },
  /** Forgets every key the cipher holds. */
  stop: (ctx) => {
    if (!ctx.services.has('cipher')) return;
    ctx.services.get('cipher').close?.();
  },
});

export default aesGcmPlugin;
