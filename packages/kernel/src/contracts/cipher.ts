/** cipher — per-peer-pair AEAD sessions with an ESP-like envelope. */
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
}
