/** The plugin's configuration codec (decoded by the kernel at load, and again by each data-path thread). */
import * as t from 'io-ts';

export const AesGcmConfig = t.partial({
  /** Anti-replay window in packets (power of two, 2^10..2^24; default 2^16). */
  replayWindow: t.number,
  /** Retired epochs remembered for `oldKey` accounting (default 8). */
  retiredEpochs: t.number,
});
export type AesGcmConfig = t.TypeOf<typeof AesGcmConfig>;
