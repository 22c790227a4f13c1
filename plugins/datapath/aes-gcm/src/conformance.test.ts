/** Runs the shared cipher conformance suite (@weft/testing) against the AES-256-GCM cipher. */
import { testCipher } from '@weft/testing';
import { createAesGcmCipher } from './cipher.ts';

testCipher('aes-gcm (node:crypto)', () => createAesGcmCipher());
testCipher('aes-gcm (node:crypto, window 2^17)', () => createAesGcmCipher({ replayWindow: 1 << 17 }), { window: 1 << 17 });
