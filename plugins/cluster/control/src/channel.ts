/**
 * The control-plane channel: a handshake on a fresh TCP connection, then length-prefixed AEAD
 * frames. See ../WIRE.md for the byte layout. Nothing here knows about RPC methods.
 *
 * Every read is bounded (fixed-size hellos, frames up to MAX_FRAME) and every failure — a bad
 * magic, a bad signature, a frame that does not open, a peer that stalls the handshake — ends in
 * a `ChannelError` and a destroyed socket, never an exception escaping to the event loop.
 */
import * as net from 'node:net';
import { concat, fromUtf8, sodium, utf8 } from './util.ts';

export const MAGIC = utf8('WFT1');
export const CLIENT_HELLO_BYTES = 4 + 1 + 32 + 32;
export const SERVER_HELLO_BYTES = 4 + 32 + 32 + 32 + 64;
/** Largest plaintext in one frame. */
export const MAX_FRAME = 1 << 20;
export const TAG_BYTES = 16;
export const HANDSHAKE_TIMEOUT_MS = 5000;
/** Unread bytes accepted from a peer that has not authenticated yet. */
export const AUTH_FRAME_LIMIT = 64 * 1024;
/** Unread bytes accepted from an authenticated peer: two full frames. */
export const FRAME_READ_LIMIT = MAX_FRAME * 2 + 64;

export const AuthMode = { token: 0, node: 1 } as const;
export type AuthMode = 'token' | 'node';

export class ChannelError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'ChannelError';
    this.reason = reason;
  }
}

/** Turns a socket's data events into `take(n)` promises; bounded buffering. */
export class SocketReader {
  private chunks: Uint8Array[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;
  private readonly sock: net.Socket;
  private limit: number;

  constructor(sock: net.Socket, limit = FRAME_READ_LIMIT) {
    this.sock = sock;
    this.limit = limit;
    sock.on('data', (d: Buffer) => {
      this.chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      this.have += d.byteLength;
      if (this.have > this.limit) {
        this.fail(new ChannelError(`peer sent more than ${this.limit} bytes unread`));
        sock.destroy();
        return;
      }
      this.pump();
    });
    sock.on('close', () => this.fail(new ChannelError('connection closed')));
    sock.on('error', (e) => this.fail(new ChannelError(`connection error: ${e.message}`)));
  }

  /** Raises the buffering bound once the (small) handshake is over. */
  setLimit(n: number): void {
    this.limit = n;
  }

  private fail(e: Error): void {
    if (this.failed === undefined) this.failed = e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failed);
  }

  private pump(): void {
    const w = this.waiter;
    if (w === undefined || this.have < w.n) return;
    this.waiter = undefined;
    w.resolve(this.read(w.n));
  }

  private read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - o);
      out.set(c.subarray(0, k), o);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.have -= n;
    return out;
  }

  take(n: number): Promise<Uint8Array> {
    if (this.waiter !== undefined) return Promise.reject(new ChannelError('concurrent read'));
    if (this.have >= n) return Promise.resolve(this.read(n));
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChannelError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Per-direction ChaCha20-Poly1305 (IETF) with a 64-bit counter nonce; the length header is AD. */
class FrameCipher {
  private readonly key: Uint8Array;
  private ctr = 0n;
  private readonly nonce = new Uint8Array(12);

  constructor(key: Uint8Array) {
    this.key = key;
  }

  private next(): Uint8Array {
    new DataView(this.nonce.buffer).setBigUint64(4, this.ctr, true);
    this.ctr++;
    return this.nonce;
  }

  seal(plain: Uint8Array): Uint8Array {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, plain.length + TAG_BYTES);
    const ct = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plain, header, null, this.next(), this.key);
    return concat(header, ct);
  }

  open(header: Uint8Array, ct: Uint8Array): Uint8Array {
    try {
      return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ct, header, this.next(), this.key);
    } catch {
      throw new ChannelError('a frame failed authentication (corrupted, replayed or reordered)');
    }
  }
}

/** An established, authenticated-encrypted connection carrying JSON messages. */
export class Conn {
  readonly remote: string;
  readonly transcript: Uint8Array;
  private readonly sock: net.Socket;
  private readonly reader: SocketReader;
  private readonly tx: FrameCipher;
  private readonly rx: FrameCipher;
  private closedFlag = false;
  private closeListeners: ((why: string) => void)[] = [];

  constructor(sock: net.Socket, reader: SocketReader, txKey: Uint8Array, rxKey: Uint8Array, transcript: Uint8Array) {
    this.sock = sock;
    this.reader = reader;
    this.tx = new FrameCipher(txKey);
    this.rx = new FrameCipher(rxKey);
    this.transcript = transcript;
    this.remote = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`;
    sock.on('close', () => this.markClosed('connection closed'));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private markClosed(why: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const l of this.closeListeners.splice(0)) l(why);
  }

  /** Bounds unread input; the manager keeps it small until the peer has authenticated. */
  setReadLimit(n: number): void {
    this.reader.setLimit(n);
  }

  onClose(fn: (why: string) => void): void {
    if (this.closedFlag) fn('connection closed');
    else this.closeListeners.push(fn);
  }

  send(msg: unknown): void {
    if (this.closedFlag) return;
    const plain = utf8(JSON.stringify(msg));
    if (plain.length > MAX_FRAME) throw new ChannelError(`message of ${plain.length} bytes exceeds the ${MAX_FRAME}-byte frame limit`);
    this.sock.write(this.tx.seal(plain));
  }

  /** Next message (parsed JSON, not yet decoded by a codec). */
  async receive(timeoutMs?: number): Promise<unknown> {
    const run = async () => {
      const header = await this.reader.take(4);
      const len = new DataView(header.buffer, header.byteOffset, 4).getUint32(0);
      if (len < TAG_BYTES || len > MAX_FRAME + TAG_BYTES) throw new ChannelError(`frame length ${len} is outside ${TAG_BYTES}..${MAX_FRAME + TAG_BYTES}`);
      const ct = await this.reader.take(len);
      const plain = this.rx.open(header, ct);
      try {
        return JSON.parse(fromUtf8(plain)) as unknown;
      } catch {
        throw new ChannelError('a frame did not hold JSON');
      }
    };
    return timeoutMs === undefined ? run() : withTimeout(run(), timeoutMs, 'waiting for a reply');
  }

  /** Reads messages until the connection ends; errors close it. */
  async loop(handle: (msg: unknown) => void | Promise<void>): Promise<string> {
    try {
      for (;;) await handle(await this.receive());
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.close();
      this.markClosed(why);
      return why;
    }
  }

  close(): void {
    if (!this.sock.destroyed) this.sock.end();
    setTimeout(() => this.sock.destroy(), 50).unref();
    this.markClosed('closed locally');
  }

  destroy(): void {
    this.sock.destroy();
    this.markClosed('closed locally');
  }
}

const LABEL_TRANSCRIPT = utf8('weft-cp-1 transcript');
const LABEL_SERVER = utf8('weft-cp-1 server');
export const LABEL_JOIN = utf8('weft-cp-1 join');
export const LABEL_NODE = utf8('weft-cp-1 node');

function sessionKey(shared: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sodium.crypto_generichash(32, transcript, shared);
}

export interface ManagerIdentity {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/**
 * Client side: sends its hello, checks the manager's signature and key, derives the session.
 * `checkKey` returns an error message when the manager's public key is not the pinned one.
 */
export async function connectChannel(opts: {
  host: string;
  port: number;
  mode: AuthMode;
  checkKey: (managerPublicKey: Uint8Array) => string | undefined;
  timeoutMs?: number;
}): Promise<{ conn: Conn; managerPublicKey: Uint8Array }> {
  const timeout = opts.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const sock = net.connect({ host: opts.host, port: opts.port });
  sock.setNoDelay(true);
  const reader = new SocketReader(sock);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      }),
      timeout,
      'connecting',
    );
    const kx = sodium.crypto_kx_keypair();
    const hello = concat(MAGIC, Uint8Array.of(AuthMode[opts.mode]), kx.publicKey, sodium.randombytes_buf(32));
    sock.write(hello);
    const sh = await withTimeout(reader.take(SERVER_HELLO_BYTES), timeout, 'the manager\'s handshake');
    if (sodium.memcmp(sh.subarray(0, 4), MAGIC) === false) throw new ChannelError('the peer does not speak the Weft control protocol (bad magic)');
    const serverKx = sh.subarray(4, 36);
    const managerPk = sh.slice(68, 100);
    const sig = sh.subarray(100, 164);
    const transcript = sodium.crypto_generichash(32, concat(LABEL_TRANSCRIPT, hello, sh.subarray(0, 100)), null);
    const keyProblem = opts.checkKey(managerPk);
    if (keyProblem !== undefined) throw new ChannelError(keyProblem);
    if (!sodium.crypto_sign_verify_detached(sig, concat(LABEL_SERVER, transcript), managerPk)) {
      throw new ChannelError('the manager failed to prove possession of its key (bad handshake signature)');
    }
    const keys = sodium.crypto_kx_client_session_keys(kx.publicKey, kx.privateKey, serverKx);
    const conn = new Conn(sock, reader, sessionKey(keys.sharedTx, transcript), sessionKey(keys.sharedRx, transcript), transcript);
    return { conn, managerPublicKey: managerPk };
  } catch (e) {
    sock.destroy();
    throw e instanceof ChannelError ? e : new ChannelError(e instanceof Error ? e.message : String(e));
  }
}

/** Server side of the handshake on an accepted socket. */
export async function acceptChannel(sock: net.Socket, identity: ManagerIdentity, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<{ conn: Conn; mode: AuthMode }> {
  sock.setNoDelay(true);
  const reader = new SocketReader(sock, 4096);
  try {
    const magic = await withTimeout(reader.take(4), timeoutMs, 'the client hello');
    if (sodium.memcmp(magic, MAGIC) === false) throw new ChannelError('bad magic: not a Weft control-plane client');
    const rest = await withTimeout(reader.take(CLIENT_HELLO_BYTES - 4), timeoutMs, 'the client hello');
    const hello = concat(magic, rest);
    const modeByte = hello[4];
    const mode: AuthMode | undefined = modeByte === AuthMode.token ? 'token' : modeByte === AuthMode.node ? 'node' : undefined;
    if (mode === undefined) throw new ChannelError(`unknown authentication mode ${modeByte}`);
    const clientKx = hello.subarray(5, 37);
    const kx = sodium.crypto_kx_keypair();
    const partial = concat(MAGIC, kx.publicKey, sodium.randombytes_buf(32), identity.publicKey);
    const transcript = sodium.crypto_generichash(32, concat(LABEL_TRANSCRIPT, hello, partial), null);
    const sig = sodium.crypto_sign_detached(concat(LABEL_SERVER, transcript), identity.secretKey);
    sock.write(concat(partial, sig));
    const keys = sodium.crypto_kx_server_session_keys(kx.publicKey, kx.privateKey, clientKx);
    // After the handshake frames may be up to MAX_FRAME: replace the small handshake bound.
    // Until the peer authenticates, one small frame (the auth message) is all it may send.
    reader.setLimit(AUTH_FRAME_LIMIT);
    return { conn: new Conn(sock, reader, sessionKey(keys.sharedTx, transcript), sessionKey(keys.sharedRx, transcript), transcript), mode };
  } catch (e) {
    sock.destroy();
    throw e instanceof ChannelError ? e : new ChannelError(e instanceof Error ? e.message : String(e));
  }
}
