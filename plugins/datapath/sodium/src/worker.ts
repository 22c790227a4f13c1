/**
 * The module a data-path thread loads (the kernel's `Cipher.worker`): `createWorkerCipher(config)`
 * builds this thread's own sodium cipher, with the options of the cipher service that named it.
 * Its sessions hold their own sequence numbers and replay windows; the data path mirrors the
 * service's ring into it.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import type { Cipher, WorkerCipherFactory } from '@weft/kernel';
import { createCipher } from './cipher.ts';
import { SodiumConfig } from './config.ts';

export const createWorkerCipher: WorkerCipherFactory = async (config: unknown): Promise<Cipher> => {
  const c = SodiumConfig.decode(config ?? {});
  if (isLeft(c)) throw new Error(`sodium: the data-path thread got a config that is not a sodium config: ${JSON.stringify(config)}`);
  return createCipher(c.right);
};
