/**
 * The module a data-path thread loads (the kernel's `Cipher.worker`): `createWorkerCipher(config)`
 * builds this thread's own AES-256-GCM cipher with the options of the cipher service that named it.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import type { Cipher, WorkerCipherFactory } from '@weft/kernel';
import { createAesGcmCipher } from './cipher.ts';
import { AesGcmConfig } from './config.ts';

export const createWorkerCipher: WorkerCipherFactory = (config: unknown): Cipher => {
  const c = AesGcmConfig.decode(config ?? {});
  if (isLeft(c)) throw new Error(`aes-gcm: the data-path thread got a config that is not an aes-gcm config: ${JSON.stringify(config)}`);
  return createAesGcmCipher(c.right);
};
