/**
 * A kernel `cipher` service over any AEAD with a 12-byte nonce and a 16-byte tag: one
 * EnvelopeCipher per node, one CipherSession per (local, remote) pair, one tx SA (the ring's
 * primary key) and up to three rx SAs (every key in the ring) per session.
 *
 * Rotation (libnetwork's rSA/fSA sequence, done per packet instead of per xfrm state): a receiver
 * accepts every key in the ring, a sender uses only `ring.primary`. Because the manager installs a
 * new key for receiving one rotation before anyone sends with it, and keeps the previous primary
 * as the oldest key, nodes that apply a ring at different times lose nothing.
 */
import { DropReason, type Cipher, type CipherSession, type CipherWorker, type DataKey, type KeyRing } from '@weft/kernel';
import { DATA_KEY_MAX, DATA_KEY_MIN, HEADER_BYTES, MAX_PLAINTEXT, OVERHEAD, TAG_BYTES, saKey, seedSeq, spiKey, spiOf, validEpoch, type Aead, type Labels } from './envelope.ts';
import { DEFAULT_WINDOW, ReplayWindow } from './replay.ts';

export interface EnvelopeCipherOptions {
  /** Anti-replay window in packets: a power of two, 2^10..2^24; default 2^16. */
  readonly replayWindow?: number;
  /** How many retired epochs are remembered so their late packets count as `oldKey`; default 8. */
  readonly retiredEpochs?: number;
  /** Milliseconds clock (SA age, initial sequence numbers); default Date.now. */
  readonly now?: () => number;
}

/** What a cipher plugin plugs in: its AEAD, its derivation labels, its name (error prefix) and, optionally, its worker module. */
export interface EnvelopeSuite {
  /** Plugin name; errors start with it (`sodium: key ring has 4 keys; ...`). */
  readonly plugin: string;
  readonly aead: Aead;
  readonly labels: Labels;
  /** The kernel's `Cipher.worker`: how a data-path thread builds its own instance. */
  readonly worker?: CipherWorker;
}

export interface EnvelopeCipher extends Cipher {
  /** How the backend runs (`native`, `wasm-heap`, `api`, `node:crypto`, ...). */
  readonly mode: string;
  /** Epochs of the installed ring, in ring order, and the primary's epoch (-1 before any ring). */
  readonly epochs: readonly number[];
  readonly primaryEpoch: number;
  session(local: string, remote: string): EnvelopeSession;
  /** Ring listeners (see the kernel's `Cipher.onKeyRing`); always present here. */
  onKeyRing(listener: (ring: KeyRing) => void): () => void;
  /** Sessions created so far, keyed `local→remote`. */
  sessions(): ReadonlyMap<string, EnvelopeSession>;
  /** Zeroes key material held by this cipher and its sessions; the cipher is unusable afterwards. */
  close(): void;
}

export const DEFAULT_RETIRED_EPOCHS = 8;

/** A key of the installed ring, shared by all sessions; SAs are re-derived only when this object changes. */
interface RingEntry {
  readonly epoch: number;
  readonly key: Uint8Array;
  readonly spiKey: Uint8Array;
}

interface Retired {
  readonly epoch: number;
  readonly spiKey: Uint8Array;
}

interface TxSa {
  readonly entry: RingEntry;
  readonly spi: number;
  readonly key: Uint8Array;
  readonly installedAt: number;
  hi: number;
  lo: number;
  packets: number;
  bytes: number;
}

interface RxSa {
  readonly entry: RingEntry;
  readonly spi: number;
  readonly key: Uint8Array;
  readonly window: ReplayWindow;
  seen: boolean;
}

const U32_MAX = 0xffffffff;

export class EnvelopeSession implements CipherSession {
  readonly local: string;
  readonly remote: string;
  private readonly aead: Aead;
  private readonly labels: Labels;
  private readonly plugin: string;
  private readonly windowSize: number;
  private readonly now: () => number;
  /** Scratch header: nonce and AD for the backend, reused for every packet. */
  private readonly hdr = new Uint8Array(HEADER_BYTES);
  private readonly hdrView = new DataView(this.hdr.buffer);
  private tx: TxSa | undefined;
  private rx: RxSa[] = [];
  private retiredSpis: { readonly spi: number; readonly epoch: number }[] = [];
  private readonly rxEpochs = new Set<number>();
  private rxEpochLast = -1;

  private sealedPackets = 0;
  private sealedBytes = 0;
  private sealErrors = 0;
  private openedPackets = 0;
  private openedBytes = 0;
  private dShort = 0;
  private dUnknownSpi = 0;
  private dAuth = 0;
  private dReplay = 0;
  private dOldKey = 0;
  private dTooBig = 0;

  constructor(suite: EnvelopeSuite, local: string, remote: string, windowSize: number, now: () => number) {
    this.aead = suite.aead;
    this.labels = suite.labels;
    this.plugin = suite.plugin;
    this.local = local;
    this.remote = remote;
    this.windowSize = windowSize;
    this.now = now;
  }

  /** Brings the SAs in line with the ring; SAs whose ring entry is unchanged keep their state. */
  install(entries: readonly RingEntry[], primary: RingEntry | undefined, retired: readonly Retired[]): void {
    const a = this.aead;
    const l = this.labels;
    const rx: RxSa[] = [];
    for (const e of entries) {
      const kept = this.rx.find((s) => s.entry === e);
      rx.push(
        kept ?? {
          entry: e,
          spi: spiOf(a, l, e.spiKey, e.epoch, this.remote, this.local),
          key: saKey(a, l, e.key, e.epoch, this.remote, this.local),
          window: new ReplayWindow(this.windowSize),
          seen: false,
        },
      );
    }
    for (const s of this.rx) if (!rx.includes(s)) s.key.fill(0);
    this.rx = rx;
    this.retiredSpis = retired.map((r) => ({ spi: spiOf(a, l, r.spiKey, r.epoch, this.remote, this.local), epoch: r.epoch }));
    if (primary === undefined) {
      this.tx?.key.fill(0);
      this.tx = undefined;
    } else if (this.tx?.entry !== primary) {
      this.tx?.key.fill(0);
      const now = this.now();
      const [hi, lo] = seedSeq(now);
      this.tx = {
        entry: primary,
        spi: spiOf(a, l, primary.spiKey, primary.epoch, this.local, this.remote),
        key: saKey(a, l, primary.key, primary.epoch, this.local, this.remote),
        installedAt: now,
        hi,
        lo,
        packets: 0,
        bytes: 0,
      };
    }
  }

  seal(plain: Uint8Array, len: number, out: Uint8Array): number {
    const tx = this.tx;
    if (tx === undefined) {
      this.sealErrors++;
      return DropReason.unknownSpi;
    }
    if (!(len >= 0 && len <= plain.length && len <= MAX_PLAINTEXT && len + OVERHEAD <= out.length)) {
      this.sealErrors++;
      return DropReason.tooBig;
    }
    const hi = tx.hi;
    const lo = tx.lo;
    if (lo === U32_MAX) {
      // 2^64 packets under one key is unreachable (rotate long before); never wrap.
      if (hi === U32_MAX) throw new Error(`${this.plugin}: sequence space of SA ${tx.spi} toward "${this.remote}" exhausted; rotate the key`);
      tx.hi = hi + 1;
      tx.lo = 0;
    } else {
      tx.lo = lo + 1;
    }
    const v = this.hdrView;
    v.setUint32(0, tx.spi);
    v.setUint32(4, hi);
    v.setUint32(8, lo);
    out.set(this.hdr, 0);
    this.aead.seal(out, HEADER_BYTES, plain, len, this.hdr, tx.key);
    tx.packets++;
    tx.bytes += len;
    this.sealedPackets++;
    this.sealedBytes += len;
    return len + OVERHEAD;
  }

  open(sealed: Uint8Array, len: number, out: Uint8Array): number {
    if (!(len >= OVERHEAD && len <= sealed.length)) {
      this.dShort++;
      return DropReason.short;
    }
    const h = this.hdr;
    for (let i = 0; i < HEADER_BYTES; i++) h[i] = sealed[i]!;
    const spi = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    const hi = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
    const lo = ((h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!) >>> 0;
    const plainLen = len - OVERHEAD;
    let reason: number = DropReason.unknownSpi;
    const rx = this.rx;
    // ≤ 3 SAs: a linear scan beats a Map. Every SA with this SPI is tried, so a (2^-32) SPI
    // collision inside one session costs an extra open instead of a lost packet.
    for (let i = 0; i < rx.length; i++) {
      const sa = rx[i]!;
      if (sa.spi !== spi) continue;
      if (!sa.window.check(hi, lo)) {
        if (reason === DropReason.unknownSpi) reason = DropReason.replay;
        continue;
      }
      if (plainLen > out.length || plainLen > MAX_PLAINTEXT) {
        reason = DropReason.tooBig;
        break;
      }
      if (!this.aead.open(out, sealed, HEADER_BYTES, plainLen + TAG_BYTES, h, sa.key)) {
        reason = DropReason.auth;
        continue;
      }
      // Only now, with the tag verified, may the window move.
      sa.window.accept(hi, lo);
      if (!sa.seen) {
        sa.seen = true;
        this.rxEpochs.add(sa.entry.epoch);
      }
      this.rxEpochLast = sa.entry.epoch;
      this.openedPackets++;
      this.openedBytes += plainLen;
      return plainLen;
    }
    if (reason === DropReason.unknownSpi) {
      for (const r of this.retiredSpis) {
        if (r.spi === spi) {
          reason = DropReason.oldKey;
          break;
        }
      }
    }
    switch (reason) {
      case DropReason.replay:
        this.dReplay++;
        break;
      case DropReason.auth:
        this.dAuth++;
        break;
      case DropReason.tooBig:
        this.dTooBig++;
        break;
      case DropReason.oldKey:
        this.dOldKey++;
        break;
      default:
        this.dUnknownSpi++;
    }
    return reason;
  }

  /**
   * Counters. `drop.<reason>` names follow DropReason; bytes are plaintext bytes. `txSaPackets`,
   * `txSaBytes` and `saAgeMs` describe the current tx SA and feed volume-based rotation.
   */
  get stats(): Readonly<Record<string, number | bigint>> {
    const tx = this.tx;
    const dropped = this.dShort + this.dUnknownSpi + this.dAuth + this.dReplay + this.dOldKey + this.dTooBig;
    return {
      sealedPackets: this.sealedPackets,
      sealedBytes: this.sealedBytes,
      sealErrors: this.sealErrors,
      openedPackets: this.openedPackets,
      openedBytes: this.openedBytes,
      dropped,
      'drop.short': this.dShort,
      'drop.unknownSpi': this.dUnknownSpi,
      'drop.auth': this.dAuth,
      'drop.replay': this.dReplay,
      'drop.oldKey': this.dOldKey,
      'drop.tooBig': this.dTooBig,
      txEpoch: tx?.entry.epoch ?? -1,
      txSpi: tx?.spi ?? 0,
      txSeq: tx === undefined ? 0n : (BigInt(tx.hi) << 32n) | BigInt(tx.lo),
      txSaPackets: tx?.packets ?? 0,
      txSaBytes: tx?.bytes ?? 0,
      saAgeMs: tx === undefined ? 0 : Math.max(0, this.now() - tx.installedAt),
      rxSas: this.rx.length,
      rxEpochsSeen: this.rxEpochs.size,
      rxEpochLast: this.rxEpochLast,
    };
  }

  /** SPIs of this session (diagnostics, `net doctor`): tx and rx with their epochs. */
  spis(): { readonly tx?: { spi: number; epoch: number }; readonly rx: readonly { spi: number; epoch: number }[] } {
    const rx = this.rx.map((s) => ({ spi: s.spi, epoch: s.entry.epoch }));
    return this.tx === undefined ? { rx } : { tx: { spi: this.tx.spi, epoch: this.tx.entry.epoch }, rx };
  }

  /** Zeroes SA keys. */
  wipe(): void {
    for (const s of this.rx) s.key.fill(0);
    this.tx?.key.fill(0);
    this.rx = [];
    this.tx = undefined;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Why a ring is unusable, or undefined. Messages quote the bad value and say what to do. */
export function ringProblem(ring: KeyRing): string | undefined {
  const n = ring.keys.length;
  if (n < 1 || n > 3) return `key ring has ${n} keys; give 1 to 3 (newest for receive, primary for send, oldest for laggards)`;
  if (!Number.isInteger(ring.primary) || ring.primary < 0 || ring.primary >= n) return `key ring primary ${ring.primary} is not an index into its ${n} keys`;
  const seen = new Set<number>();
  for (const k of ring.keys) {
    if (!validEpoch(k.epoch)) return `key epoch ${k.epoch} must be a non-negative safe integer`;
    if (seen.has(k.epoch)) return `key epoch ${k.epoch} appears twice in the ring; epochs must be distinct`;
    seen.add(k.epoch);
    if (!(k.key instanceof Uint8Array) || k.key.length < DATA_KEY_MIN || k.key.length > DATA_KEY_MAX) {
      return `key of epoch ${k.epoch} is ${k.key?.length ?? 0} bytes; data keys must be ${DATA_KEY_MIN}..${DATA_KEY_MAX} bytes (32 recommended)`;
    }
  }
  return undefined;
}

/** Builds a cipher on a suite (synchronous). */
export function createEnvelopeCipher(suite: EnvelopeSuite, options: EnvelopeCipherOptions = {}): EnvelopeCipher {
  const { aead, labels, plugin } = suite;
  const windowSize = options.replayWindow ?? DEFAULT_WINDOW;
  try {
    new ReplayWindow(windowSize); // validates the size up front, with a clear message
  } catch (e) {
    throw new Error(`${plugin}: ${(e as Error).message}`);
  }
  const retiredCap = options.retiredEpochs ?? DEFAULT_RETIRED_EPOCHS;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, EnvelopeSession>();
  let entries: RingEntry[] = [];
  let primary: RingEntry | undefined;
  let retired: Retired[] = [];
  let closed = false;
  // The installed ring (key copies) and its subscribers (`onKeyRing`).
  let current: KeyRing | undefined;
  const listeners = new Set<(ring: KeyRing) => void>();
  const copyRing = (): KeyRing | undefined => (current === undefined ? undefined : { primary: current.primary, keys: current.keys.map((k) => ({ epoch: k.epoch, key: k.key.slice() })) });

  const cipher: EnvelopeCipher = {
    backend: aead.name,
    mode: aead.mode,
    overhead: OVERHEAD,
    ...(suite.worker !== undefined ? { worker: suite.worker } : {}),
    get epochs() {
      return entries.map((e) => e.epoch);
    },
    get primaryEpoch() {
      return primary?.epoch ?? -1;
    },
    setKeyRing(ring: KeyRing): void {
      if (closed) throw new Error(`${plugin}: cipher is closed`);
      const problem = ringProblem(ring);
      if (problem !== undefined) throw new Error(`${plugin}: ${problem}`);
      const newest = Math.max(...ring.keys.map((k) => k.epoch));
      const installedNewest = entries.length === 0 ? -1 : Math.max(...entries.map((e) => e.epoch));
      if (newest < installedNewest) {
        throw new Error(`${plugin}: key ring with newest epoch ${newest} is older than the installed ring (newest epoch ${installedNewest}); refusing to roll back — send the current ring`);
      }
      const next: RingEntry[] = ring.keys.map((k: DataKey) => {
        const same = entries.find((e) => e.epoch === k.epoch && sameBytes(e.key, k.key));
        return same ?? { epoch: k.epoch, key: k.key.slice(), spiKey: spiKey(aead, labels, k.key) };
      });
      const nextPrimary = next[ring.primary]!;
      if (next.length === entries.length && next.every((e, i) => e === entries[i]) && nextPrimary === primary) return; // same ring again
      const epochs = new Set(next.map((e) => e.epoch));
      const dropped = entries.filter((e) => !next.includes(e));
      retired = [...retired.filter((r) => !epochs.has(r.epoch)), ...dropped.filter((e) => !epochs.has(e.epoch)).map((e) => ({ epoch: e.epoch, spiKey: e.spiKey }))].slice(-retiredCap);
      entries = next;
      primary = nextPrimary;
      for (const s of sessions.values()) s.install(entries, primary, retired);
      for (const e of dropped) e.key.fill(0);
      for (const k of current?.keys ?? []) k.key.fill(0);
      current = { primary: ring.primary, keys: next.map((e) => ({ epoch: e.epoch, key: e.key.slice() })) };
      for (const l of listeners) l(copyRing()!);
    },
    onKeyRing(listener: (ring: KeyRing) => void): () => void {
      listeners.add(listener);
      const r = copyRing();
      if (r !== undefined) listener(r);
      return () => {
        listeners.delete(listener);
      };
    },
    session(local: string, remote: string): EnvelopeSession {
      if (closed) throw new Error(`${plugin}: cipher is closed`);
      const id = `${local}→${remote}`;
      let s = sessions.get(id);
      if (s === undefined) {
        // One session object per pair: two objects would each count from the same seed under one key.
        s = new EnvelopeSession(suite, local, remote, windowSize, now);
        s.install(entries, primary, retired);
        sessions.set(id, s);
      }
      return s;
    },
    sessions: () => sessions,
    close(): void {
      closed = true;
      listeners.clear();
      for (const k of current?.keys ?? []) k.key.fill(0);
      current = undefined;
      for (const s of sessions.values()) s.wipe();
      for (const e of entries) e.key.fill(0);
      entries = [];
      primary = undefined;
      aead.wipe();
    },
  };
  return cipher;
}
