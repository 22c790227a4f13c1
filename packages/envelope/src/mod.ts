/**
 * @weft/envelope — the ESP-like envelope Weft's cipher plugins share (`SPI ‖ seq64 ‖ ciphertext ‖
 * tag`, 28 bytes): per-direction SA keys and SPIs derived from the ring's data keys, a 64-bit
 * anti-replay window, three-key ring handling and session stats. A cipher plugin supplies the AEAD
 * and the PRF (`Aead`) and its labels; this package supplies the rest of the kernel `Cipher`.
 */
export { createEnvelopeCipher, EnvelopeSession, ringProblem, DEFAULT_RETIRED_EPOCHS } from './cipher.ts';
export type { EnvelopeCipher, EnvelopeCipherOptions, EnvelopeSuite } from './cipher.ts';
export {
  KEY_BYTES, NONCE_BYTES, TAG_BYTES, MAX_PLAINTEXT, SPI_BYTES, SEQ_BYTES, HEADER_BYTES, OVERHEAD, DATA_KEY_MIN, DATA_KEY_MAX,
  VXLAN_HEADER_WORD, saInfo, spiKey, saKey, spiOf, normalizeSpi, validEpoch, seedSeq,
} from './envelope.ts';
export type { Aead, Labels } from './envelope.ts';
export { ReplayWindow, DEFAULT_WINDOW, MIN_WINDOW, MAX_WINDOW } from './replay.ts';
export { rotationDue, VolumeMeter, DEFAULT_ROTATION_LIMITS } from './rotation.ts';
export type { RotationLimits, RotationReason } from './rotation.ts';
