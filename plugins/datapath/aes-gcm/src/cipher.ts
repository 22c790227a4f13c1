/**
 * The kernel `cipher` service on AES-256-GCM: the shared envelope (@weft/envelope, the same layout,
 * SPIs, sequence numbers, replay window and ring rules as @weft/sodium) with AES-256-GCM as the
 * AEAD and HMAC-SHA-256 as the PRF, under its own labels (`weft-gcm-*-v1`), so one data key never
 * gives the same SA key to both ciphers. Not interoperable with @weft/sodium on the wire: every
 * node of a cluster runs the same cipher.
 */
import { createEnvelopeCipher, type EnvelopeCipher, type EnvelopeCipherOptions, type EnvelopeSession, type Labels } from '@weft/envelope';
import { nodeAesGcm } from './aead.ts';

export type AesGcmCipherOptions = EnvelopeCipherOptions;
/** What a data-path thread receives (structured-clonable: no clock). */
export type AesGcmWorkerConfig = Omit<AesGcmCipherOptions, 'now'>;
export type AesGcmCipher = EnvelopeCipher;
export type AesGcmSession = EnvelopeSession;

export const AES_GCM_LABELS: Labels = { saKey: 'weft-gcm-key-v1', spi: 'weft-gcm-spi-v1', spiKey: 'weft-gcm-spik-v1' };

/** The module a data-path thread loads (`Cipher.worker`). */
export const AES_GCM_WORKER_MODULE = new URL('./worker.ts', import.meta.url).href;

export function createAesGcmCipher(options: AesGcmCipherOptions = {}): AesGcmCipher {
  const { now: _now, ...worker } = options;
  return createEnvelopeCipher({ plugin: 'aes-gcm', aead: nodeAesGcm(), labels: AES_GCM_LABELS, worker: { module: AES_GCM_WORKER_MODULE, config: worker } }, options);
}
