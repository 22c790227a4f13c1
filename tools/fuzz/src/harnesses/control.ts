/** Control plane (TCP 2377): handshake, encrypted frames, channel/RPC codecs, join tokens. */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import * as t from 'io-ts';
import { isWeftError, WeftException } from '@weft/kernel';
import { acceptChannel, ChannelError, Conn, SocketReader, MAGIC, CLIENT_HELLO_BYTES } from '../../../../plugins/cluster/control/src/channel.ts';
import * as codecs from '../../../../plugins/cluster/control/src/codecs.ts';
import { decodeOr } from '../../../../plugins/cluster/control/src/rpc.ts';
import { parseToken, formatToken, newSecret } from '../../../../plugins/cluster/control/src/token.ts';
import { bytesMix, hostileJsonValue, jsonTextMix, must, mutateObject, prototypeClean, toHex, type Harness } from '../lib.ts';

/** Enough of a net.Socket for SocketReader/Conn/acceptChannel. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  readonly remoteAddress = '192.0.2.1';
  readonly remotePort = 40000;
  readonly written: Uint8Array[] = [];
  write(b: Uint8Array): boolean {
    this.written.push(Uint8Array.from(b));
    return true;
  }
  setNoDelay(): this {
    return this;
  }
  end(): this {
    this.destroy();
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
    return this;
  }
}
const asSocket = (s: FakeSocket) => s as unknown as net.Socket;

const isChannelError = (e: unknown) => e instanceof ChannelError;

const snapshot = { Seq: 1, Networks: [], KeyRing: { Rotation: 1, Keys: [{ Epoch: 1, Key: 'AAAA' }], Primary: 1 }, GossipPeers: ['10.0.0.1:7946'], Managers: ['10.0.0.1:2377'] };
const VALID_MESSAGES: readonly Record<string, unknown>[] = [
  { t: 'req', id: 1, m: 'Network.Create', p: { Name: 'n', Driver: 'overlay' } },
  { t: 'res', id: 1, ok: { Id: 'x' } },
  { t: 'res', id: 2, err: { category: 'BadRequest', code: 'X', message: 'no' } },
  { t: 'push', p: snapshot },
  { t: 'auth', mode: 'token', proof: 'AAAA', join: { Name: 'w1', Addr: '10.0.0.2', PublicKey: 'AAAA', Platform: { OS: 'linux', Architecture: 'x86_64' } } },
  { t: 'auth', mode: 'node', node: 'abc', sig: 'AAAA' },
];

export const controlFrames: Harness = {
  name: 'control-frames',
  what: 'Conn.receive (the encrypted, length-prefixed JSON frames after the handshake) fed genuine frames, mutated frames and random bytes in 1-3 chunks; no throw escapes except ChannelError, no modified frame is ever accepted, length bounds enforced before buffering',
  async: true,
  async make() {
    await sodium.ready;
    const key = sodium.randombytes_buf(32);
    const other = sodium.randombytes_buf(32);
    const transcript = new Uint8Array(32);
    const seeds: Uint8Array[] = [];
    for (const m of VALID_MESSAGES) {
      const s = new FakeSocket();
      new Conn(asSocket(s), new SocketReader(asSocket(s)), key, other, transcript).send(m);
      seeds.push(s.written[0]!);
    }
    const genuine = seeds.map(toHex);
    let accepted = 0;
    let refused = 0;
    return {
      arb: fc.tuple(bytesMix(seeds, 96), fc.nat(2), fc.nat()),
      async check([frame, splits, at]: [Uint8Array, number, number]) {
        const s = new FakeSocket();
        const conn = new Conn(asSocket(s), new SocketReader(asSocket(s)), other, key, transcript);
        const p = conn.receive().then(
          (v) => ({ ok: true as const, v }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        let o = 0;
        for (let i = 0; i < splits && frame.length > 0; i++) {
          const k = o + (at % Math.max(1, frame.length - o));
          s.emit('data', Buffer.from(frame.subarray(o, k)));
          o = k;
        }
        s.emit('data', Buffer.from(frame.subarray(o)));
        s.emit('close');
        const r = await p;
        if (r.ok) {
          must(genuine.some((g) => toHex(frame).startsWith(g)), `a modified frame was accepted: ${toHex(frame).slice(0, 120)}`);
          accepted++;
        } else {
          must(isChannelError(r.e), `receive rejected with ${String(r.e)}, not a ChannelError`);
          refused++;
        }
      },
      counts: () => ({ accepted, refused }),
      after: (c) => must((c.refused ?? 0) > 0 && (c.accepted ?? 0) > 0, 'one outcome only'),
    };
  },
};

export const controlHandshake: Harness = {
  name: 'control-handshake',
  what: 'acceptChannel (the manager side of the handshake on 2377) fed random bytes and mutated client hellos (bad magic, unknown mode, short, oversized); rejects only with ChannelError, never buffers more than 4 KiB before the hello is complete',
  async: true,
  // Each input costs a key exchange and a signature (~1 ms): a quarter of N.
  scale: 0.25,
  async make() {
    await sodium.ready;
    const id = sodium.crypto_sign_keypair();
    const identity = { publicKey: id.publicKey, secretKey: id.privateKey };
    const hello = (mode: number) => {
      const b = new Uint8Array(CLIENT_HELLO_BYTES);
      b.set(MAGIC);
      b[4] = mode;
      b.set(sodium.crypto_kx_keypair().publicKey, 5);
      return b;
    };
    const seeds = [hello(0), hello(1), hello(2), new Uint8Array(5000).fill(0x57)];
    let established = 0;
    let refused = 0;
    return {
      arb: bytesMix(seeds, 96),
      async check(h: Uint8Array) {
        const s = new FakeSocket();
        const p = acceptChannel(asSocket(s), identity, 1000).then(
          (v) => ({ ok: true as const, v }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        s.emit('data', Buffer.from(h));
        s.emit('close');
        const r = await p;
        if (r.ok) {
          must(h.length >= CLIENT_HELLO_BYTES && h.length <= 4096, `handshake completed on ${h.length} bytes`);
          r.v.conn.destroy();
          established++;
        } else {
          must(isChannelError(r.e), `acceptChannel rejected with ${String(r.e)}`);
          refused++;
        }
      },
      counts: () => ({ established, refused }),
      after: (c) => must((c.refused ?? 0) > 0, 'nothing refused'),
    };
  },
};

/** Every io-ts codec exported by the control plane. */
const CODECS = (Object.entries(codecs) as [string, unknown][]).filter((e) => e[1] instanceof t.Type) as [string, t.Type<unknown, unknown, unknown>][];

export const controlCodecs: Harness = {
  name: 'control-codecs',
  what: `every io-ts codec of plugins/cluster/control (${CODECS.length}: RpcMessage, AuthMsg, Snapshot, JoinInfo, ...) through decodeOr on hostile JSON (parsed text with deep nesting, huge strings, __proto__/constructor keys, wrong types, mutated valid messages), and parseToken on mutated tokens; only BadRequest WeftErrors escape, no prototype pollution`,
  async make() {
    await sodium.ready;
    const token = formatToken(sodium.crypto_sign_keypair().publicKey, newSecret());
    let decoded = 0;
    let refused = 0;
    let tokensOk = 0;
    let tokensBad = 0;
    const textArb = jsonTextMix(VALID_MESSAGES).map((s) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        return s;
      }
    });
    const valueArb = fc.oneof(textArb, hostileJsonValue, fc.nat(VALID_MESSAGES.length - 1).chain((i) => mutateObject(VALID_MESSAGES[i]!, Object.keys(VALID_MESSAGES[i]!))));
    const tokenArb = fc.oneof(fc.string({ maxLength: 140 }), bytesMix([new TextEncoder().encode(token)], 10).map((b) => new TextDecoder().decode(b)));
    return {
      arb: fc.tuple(fc.nat(CODECS.length - 1), valueArb, tokenArb),
      check([ci, v, tok]: [number, unknown, string]) {
        const [name, codec] = CODECS[ci]!;
        try {
          decodeOr(codec, v, name);
          decoded++;
        } catch (e) {
          const we = e instanceof WeftException ? e.error : e;
          must(isWeftError(we) && we.category === 'BadRequest', `${name}: decodeOr threw ${String(e)}`);
          refused++;
        }
        try {
          parseToken(tok);
          tokensOk++;
        } catch (e) {
          const we = e instanceof WeftException ? e.error : e;
          must(isWeftError(we) && we.category === 'BadRequest', `parseToken threw ${String(e)}`);
          const secret = tok.trim().split('-')[3];
          must(secret === undefined || secret.length < 8 || !we.message.includes(secret), 'parseToken echoed the secret');
          tokensBad++;
        }
        must(prototypeClean(), 'Object.prototype was polluted');
      },
      counts: () => ({ decoded, refused, tokensOk, tokensBad }),
      after: (c) => must((c.refused ?? 0) > 0 && (c.decoded ?? 0) > 0 && (c.tokensBad ?? 0) > 0, 'one outcome only'),
    };
  },
};
