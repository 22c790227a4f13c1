/**
 * The kernel `cipher` service on libsodium: the shared envelope (@weft/envelope) with
 * ChaCha20-Poly1305-IETF as the AEAD and keyed BLAKE2b as the PRF, under the `weft-esp-*-v1`
 * labels (WIRE.md). Each data-path thread builds its own instance from `worker.ts`.
 */
import { createEnvelopeCipher, type EnvelopeCipher, type EnvelopeCipherOptions, type EnvelopeSession, type Labels } from '@weft/envelope';
import type { Aead } from '@weft/envelope';
import { loadBackend, type BackendChoice } from './backend.ts';

export interface SodiumCipherOptions extends EnvelopeCipherOptions {
  /** `auto` (default): sodium-native when it loads, else libsodium-wrappers. */
  readonly backend?: BackendChoice;
  /** libsodium-wrappers only: `wasm-heap` (default, no per-packet malloc) or `api` (documented API only). */
  readonly wrappersMode?: 'wasm-heap' | 'api';
}

/** The data-path thread's options: what `worker.ts` receives (structured-clonable: no clock). */
export type SodiumWorkerConfig = Omit<SodiumCipherOptions, 'now'>;

export type SodiumCipher = EnvelopeCipher;
export type SodiumSession = EnvelopeSession;

/** Derivation labels of envelope version 1 (WIRE.md, "Keys and derivations"). */
export const SODIUM_LABELS: Labels = { saKey: 'weft-esp-key-v1', spi: 'weft-esp-spi-v1', spiKey: 'weft-esp-spik-v1' };

/** The module a data-path thread loads (`Cipher.worker`). */
export const SODIUM_WORKER_MODULE = new URL('./worker.ts', import.meta.url).href;

/**
 * Builds a cipher on an already loaded backend (synchronous; tests and benches pick the backend).
 * `worker` (the config a data-path thread gets) is omitted when undefined: such a cipher serves no
 * threaded data path.
 */
export function createCipherWith(aead: Aead, options: SodiumCipherOptions = {}, worker?: SodiumWorkerConfig): SodiumCipher {
  return createEnvelopeCipher({ plugin: 'sodium', aead, labels: SODIUM_LABELS, ...(worker !== undefined ? { worker: { module: SODIUM_WORKER_MODULE, config: worker } } : {}) }, options);
}

/** Loads the backend (`auto` by default) and builds a cipher; data-path threads load the same backend choice. */
export async function createCipher(options: SodiumCipherOptions = {}): Promise<SodiumCipher> {
  const { now: _now, ...worker } = options;
  return createCipherWith(await loadBackend(options.backend ?? 'auto', options.wrappersMode ?? 'wasm-heap'), options, worker);
}
