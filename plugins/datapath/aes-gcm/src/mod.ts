/**
 * @weft/aes-gcm — the kernel `cipher` service with AES-256-GCM through node:crypto: the ESP-like
 * envelope of @weft/envelope (SPI ‖ seq64 ‖ ciphertext ‖ tag, 28 bytes), a three-key ring with
 * lossless rotation and a 64-bit anti-replay window. Chosen with `weft-agent --cipher aes-gcm`.
 */
export { aesGcmPlugin, aesGcmPlugin as default, AesGcmConfig } from './plugin.ts';
export { createAesGcmCipher, AES_GCM_LABELS, AES_GCM_WORKER_MODULE } from './cipher.ts';
export type { AesGcmCipher, AesGcmSession, AesGcmCipherOptions, AesGcmWorkerConfig } from './cipher.ts';
export { nodeAesGcm } from './aead.ts';
