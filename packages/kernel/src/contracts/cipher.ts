/**
 * cipher — per-peer-pair AEAD sessions with an ESP-like envelope.
 *
 * A data path that seals in threads of its own (e.g. @weft/vxlan's worker) never imports a cipher
 * implementation: it asks the `cipher` service for `worker` (a module and a structured-clonable
 * config), loads it in each thread with `loadWorkerCipher`, and mirrors the ring the service holds
 * into that thread's instance through `onKeyRing`.
 */
export interface DataKey {
  /** Key epoch (monotonic, e.g. a Lamport time from the manager). */
  readonly epoch: number;
  readonly key: Uint8Array;
}

/** Up to three keys: newest (receive only), primary (send), oldest (receive, for laggards). */
export interface KeyRing {
  readonly keys: readonly DataKey[];
  readonly primary: number;
}

/** Negative results of `open`: why a packet was dropped. */
export const DropReason = {
  short: -1,
  unknownSpi: -2,
  auth: -3,
  replay: -4,
  oldKey: -5,
  tooBig: -6,
} as const;

/** Stat names every CipherSession reports (others may be added). */
export const CipherStatNames = {
  sealedPackets: 'sealedPackets',
  openedPackets: 'openedPackets',
  /** Total drops; per reason as `drop.<reason>` (`drop.auth`, `drop.replay`, ...). */
  dropped: 'dropped',
  txEpoch: 'txEpoch',
  saAgeMs: 'saAgeMs',
} as const;

/**
 * Largest plaintext every cipher must seal in one call (a whole TCP super-frame of 64 KiB plus its
 * headers fits). Data paths that seal whole super-frames check against it before sealing.
 */
export const CIPHER_MAX_PLAINTEXT = 65535;

/**
 * The first 32-bit word of an RFC 7348 VXLAN header (flags 0x08, reserved zeros). A cipher used
 * by a VXLAN data path must never emit a sealed packet that starts with these four bytes, so the
 * receiver tells envelopes from plaintext VXLAN by the first word alone.
 */
export const VXLAN_FLAGS_WORD = 0x08000000;

export interface CipherSession {
  /**
   * Seals `plain[0..len)` into `out`; returns bytes written, or a negative DropReason
   * (`unknownSpi` when no key is installed, `tooBig` when `out` is too small).
   */
  seal(plain: Uint8Array, len: number, out: Uint8Array): number;
  /** Opens `sealed[0..len)` into `out`; returns plaintext length, or a negative DropReason. */
  open(sealed: Uint8Array, len: number, out: Uint8Array): number;
  readonly stats: Readonly<Record<string, number | bigint>>;
}

export interface Cipher {
  /** `libsodium-wrappers`, `sodium-native`, ... */
  readonly backend: string;
  /** Bytes added per packet. */
  readonly overhead: number;
  setKeyRing(ring: KeyRing): void;
  /**
   * Optional. Subscribes to key-ring changes: `listener` gets the installed ring at once (when one
   * is installed) and again after every `setKeyRing` that changed it. Returns the unsubscribe
   * function. A data path that seals in other threads, each with its own Cipher instance (the
   * sessions' sequence numbers and replay windows must not be shared across threads), mirrors
   * the ring through it; a data path that needs it and finds none must not claim `encrypts`.
   * The ring handed over holds copies of the keys; treat them as secret.
   */
  onKeyRing?(listener: (ring: KeyRing) => void): () => void;
  /** The session between this node and `remote` (both sides derive the same SPIs). One per pair: a second object for the same pair would reuse nonces. */
  session(local: string, remote: string): CipherSession;
  /** Forgets every key (zeroed where the backend allows). */
  close?(): void;
  /**
   * Optional. What a data-path thread loads to build its own instance of this cipher (see
   * `CipherWorker`). A data path that seals in other threads needs it and `onKeyRing`; without
   * both it must not claim `encrypts`.
   */
  readonly worker?: CipherWorker;
}

/**
 * How a data-path thread builds its own cipher, without the data path importing the cipher's
 * package. The thread runs `loadWorkerCipher(worker)`, then `setKeyRing` with every ring the
 * service's `onKeyRing` hands over, and seals/opens with `session(local, remote)` of that
 * instance. The instance must interoperate with the service itself under the same ring (the
 * conformance suite checks it).
 *
 * Envelope shape a VXLAN data path relies on: a sealed packet never starts with
 * `VXLAN_FLAGS_WORD`; `overhead` is exact; bytes 8..11 of consecutive seals of one session
 * differ (@weft/vxlan uses them as the group id of a fragmented envelope; a sequence number there,
 * as in the ESP-like envelope `SPI ‖ seq64 ‖ ciphertext ‖ tag`, does it).
 */
export interface CipherWorker {
  /**
   * ES module to `import()` in the thread: an absolute URL, usually
   * `new URL('./worker.ts', import.meta.url).href`, so it resolves from any package. It exports
   * `createWorkerCipher` (a `WorkerCipherFactory`).
   */
  readonly module: string;
  /** Handed to the factory unchanged; must survive `structuredClone` (no functions, no classes). */
  readonly config: unknown;
}

/** The factory a `CipherWorker.module` exports under the name in `WORKER_CIPHER_EXPORT`. */
export type WorkerCipherFactory = (config: unknown) => Cipher | Promise<Cipher>;

export const WORKER_CIPHER_EXPORT = 'createWorkerCipher';

/**
 * Loads `worker.module` and builds a cipher with its `createWorkerCipher(worker.config)`. Errors
 * name the module and say what it lacks. Control path only (once per thread).
 */
export async function loadWorkerCipher(worker: CipherWorker): Promise<Cipher> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(worker.module)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`Cannot load cipher worker module "${worker.module}": ${e instanceof Error ? e.message : String(e)}`);
  }
  const factory = mod[WORKER_CIPHER_EXPORT];
  if (typeof factory !== 'function') {
    throw new Error(`Cipher worker module "${worker.module}" has no ${WORKER_CIPHER_EXPORT} function export; export one that takes the config and returns a Cipher`);
  }
  const cipher = (await (factory as WorkerCipherFactory)(worker.config)) as Partial<Cipher> | undefined;
  if (cipher === undefined || typeof cipher.session !== 'function' || typeof cipher.setKeyRing !== 'function' || typeof cipher.overhead !== 'number') {
    throw new Error(`${WORKER_CIPHER_EXPORT} of "${worker.module}" did not return a Cipher (session, setKeyRing, overhead)`);
  }
  return cipher as Cipher;
}
