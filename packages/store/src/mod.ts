/**
 * A durable, crash-safe `Store` on the local filesystem — the agent's state dir.
 *
 * Write-ahead journal with group commit: every put and delete is appended to the current journal
 * file (`journal.<gen>.wal`) and acknowledged once that file is fdatasync'ed. Writes made while a
 * flush is in flight share the next one, so N concurrent writes cost one flush, not N (one writer
 * alone still pays one flush per write). The whole state is kept in memory (reads never touch the
 * disk); when the journal outgrows the live state, a snapshot (`snapshot.<gen>.snap`) of every key
 * is written in the background — temporary file, fsync, rename, fsync of the directory — and the
 * older journals and snapshots are removed. Start-up loads the newest snapshot and replays the
 * journals from its generation on, in order, so after a crash at any instant the store holds a
 * prefix of the writes in the order they were made, with every acknowledged one in it.
 *
 * Every journal batch and snapshot chunk is a frame: `WEFT` magic, format version, payload length
 * and CRC-32, then the payload. A frame that fails its checks is reported with its file, offset
 * and what to do; it is never silently treated as empty. The one exception is the last frame of
 * the newest journal when it runs to the end of the file: a write cut short by a crash, never
 * acknowledged, which is dropped (and counted).
 *
 * A state dir of the earlier format (one file per key: `a/b.v`, each such a frame) is loaded
 * and converted at the first start: its snapshot is written, then the old files are removed.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { raise, weftError, type Store, type WeftError } from '@weft/kernel';
import { crc32 } from '@weft/net';

export const STORE_CORRUPT = 'WEFT_STORE_CORRUPT';
export const STORE_FAILED = 'WEFT_STORE_FAILED';
const MAGIC = [0x57, 0x45, 0x46, 0x54]; // "WEFT"
const VERSION = 1;
const HEADER = 16; // magic 4, version 2, reserved 2, length 4, crc 4
const SUFFIX = '.v';
const JOURNAL = /^journal\.(\d{12})\.wal$/;
const SNAPSHOT = /^snapshot\.(\d{12})\.snap$/;
const SNAPSHOT_TMP = /^snapshot\.\d{12}\.snap\.tmp-[0-9a-f]+$/;
const OP_PUT = 1;
const OP_DELETE = 2;
/** A journal smaller than this is never compacted (the live state is rewritten at most once per this many journal bytes). */
const COMPACT_MIN = 8 << 20;
/** Snapshot frames carry about this much each. */
const SNAPSHOT_CHUNK = 1 << 20;

const genName = (g: number) => String(g).padStart(12, '0');
const journalFile = (root: string, g: number) => path.join(root, `journal.${genName(g)}.wal`);
const snapshotFile = (root: string, g: number) => path.join(root, `snapshot.${genName(g)}.snap`);

export function encodeRecord(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + value.length);
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint16(4, VERSION);
  dv.setUint32(8, value.length);
  out.set(value, HEADER);
  dv.setUint32(12, crc32(out, HEADER));
  return out;
}

/** Returns the payload, or a reason the file is not a valid record. */
export function decodeRecord(buf: Uint8Array): { ok: true; value: Uint8Array } | { ok: false; reason: string } {
  if (buf.length < HEADER) return { ok: false, reason: `truncated: ${buf.length} bytes, shorter than the ${HEADER}-byte header` };
  for (let i = 0; i < 4; i++) if (buf[i] !== MAGIC[i]) return { ok: false, reason: 'not a Weft state file (bad magic)' };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = dv.getUint16(4);
  if (version !== VERSION) return { ok: false, reason: `unknown format version ${version} (this agent reads ${VERSION})` };
  const len = dv.getUint32(8);
  if (buf.length !== HEADER + len) return { ok: false, reason: `truncated or padded: header says ${len} payload bytes, file has ${buf.length - HEADER}` };
  if (crc32(buf, HEADER) !== dv.getUint32(12)) return { ok: false, reason: 'checksum mismatch' };
  return { ok: true, value: buf.subarray(HEADER) };
}

function corrupt(file: string, reason: string): WeftError {
  return weftError('Internal', 'store', `State file ${file} is corrupt (${reason})`, {
    code: STORE_CORRUPT,
    value: file,
    hint: 'Restore it from a backup, or move it aside to reset only that piece of state; Weft will not guess its contents.',
  });
}

// ---------------------------------------------------------------------------------------------
// journal entries: op (1), key length (4), key (UTF-8), value length (4, puts only), value

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

function encodeEntry(op: number, key: string, value?: Uint8Array): Uint8Array {
  const k = te.encode(key);
  const out = new Uint8Array(1 + 4 + k.length + (op === OP_PUT ? 4 + value!.length : 0));
  const dv = new DataView(out.buffer);
  out[0] = op;
  dv.setUint32(1, k.length);
  out.set(k, 5);
  if (op === OP_PUT) {
    dv.setUint32(5 + k.length, value!.length);
    out.set(value!, 9 + k.length);
  }
  return out;
}

/** Applies every entry of a frame's payload through `apply`; returns an error text for a malformed one. */
function decodeEntries(p: Uint8Array, apply: (op: number, key: string, value: Uint8Array | undefined) => void): string | undefined {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let i = 0;
  while (i < p.length) {
    const op = p[i]!;
    if ((op !== OP_PUT && op !== OP_DELETE) || i + 5 > p.length) return `bad entry at payload byte ${i}`;
    const kl = dv.getUint32(i + 1);
    if (i + 5 + kl > p.length) return `entry at payload byte ${i} runs past its frame`;
    let key: string;
    try {
      key = td.decode(p.subarray(i + 5, i + 5 + kl));
    } catch {
      return `entry at payload byte ${i} has a key that is not UTF-8`;
    }
    i += 5 + kl;
    if (op === OP_PUT) {
      if (i + 4 > p.length) return `entry for ${JSON.stringify(key)} runs past its frame`;
      const vl = dv.getUint32(i);
      if (i + 4 + vl > p.length) return `value of ${JSON.stringify(key)} runs past its frame`;
      apply(op, key, p.slice(i + 4, i + 4 + vl));
      i += 4 + vl;
    } else apply(op, key, undefined);
  }
  return undefined;
}

/**
 * Every frame of `buf` through `apply`. A bad frame is an error, except (when `tail` is true) one
 * that runs to the end of the buffer: a write cut short, whose length is returned as dropped.
 */
function readFrames(file: string, buf: Uint8Array, tail: boolean, apply: (op: number, key: string, value: Uint8Array | undefined) => void): { error?: WeftError; dropped: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off < buf.length) {
    const rest = buf.length - off;
    const len = rest >= HEADER ? dv.getUint32(off + 8) : -1;
    const end = len < 0 ? buf.length + 1 : off + HEADER + len;
    const r = end <= buf.length ? decodeRecord(buf.subarray(off, end)) : ({ ok: false, reason: `truncated: a frame of ${len < 0 ? 'unknown' : HEADER + len} bytes with ${rest} left in the file` } as const);
    if (!r.ok) {
      if (tail && end >= buf.length) return { dropped: rest };
      return { error: corrupt(file, `frame at byte ${off}: ${r.reason}`), dropped: 0 };
    }
    const bad = decodeEntries(r.value, apply);
    if (bad !== undefined) return { error: corrupt(file, `frame at byte ${off}: ${bad}`), dropped: 0 };
    off = end;
  }
  return { dropped: 0 };
}

// ---------------------------------------------------------------------------------------------
// the earlier format: one file per key (`a/b.v`), kept readable so a state dir converts

function decodeSegment(s: string): string {
  return s === '%00' ? '' : decodeURIComponent(s);
}

/** Every file under `dir` (records and temporaries alike); a missing `dir` has none. */
async function walk(dir: string, out: string[], top = true): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out, false);
    else if (!top || !(JOURNAL.test(e.name) || SNAPSHOT.test(e.name) || SNAPSHOT_TMP.test(e.name))) out.push(p);
  }
  return out;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// loading

interface Loaded {
  readonly map: Map<string, Uint8Array>;
  readonly corrupt: WeftError[];
  /** Bytes of a last journal write cut short by a crash (never acknowledged), dropped. */
  readonly dropped: number;
  /** Highest generation of a journal or snapshot present (0: none). */
  readonly maxGen: number;
  /** Whether there is anything on disk to convert or compact (journals, old-format files). */
  readonly anything: boolean;
  /** Old-format record files (converted at open) and temporaries of interrupted writes. */
  readonly legacy: string[];
  readonly temps: string[];
}

async function load(root: string): Promise<Loaded> {
  const map = new Map<string, Uint8Array>();
  const bad: WeftError[] = [];
  let names: string[] = [];
  try {
    names = await fsp.readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const gens = (re: RegExp) => names.map((n) => re.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  const journals = gens(JOURNAL);
  const snapshots = gens(SNAPSHOT);
  const temps = names.filter((n) => SNAPSHOT_TMP.test(n)).map((n) => path.join(root, n));
  const snap = snapshots[snapshots.length - 1];
  const apply = (op: number, key: string, value: Uint8Array | undefined) => {
    if (op === OP_PUT) map.set(key, value!);
    else map.delete(key);
  };
  const legacy: string[] = [];
  if (snap !== undefined) {
    const file = snapshotFile(root, snap);
    const r = readFrames(file, await fsp.readFile(file), false, apply);
    if (r.error !== undefined) bad.push(r.error);
  }
  // Old-format files: the base when no snapshot exists yet; leftovers of a finished conversion otherwise.
  for (const p of await walk(root, [])) {
    const name = path.basename(p);
    if (/\.v\.tmp-[0-9a-f]+$/.test(name)) temps.push(p);
    else if (name.endsWith(SUFFIX)) {
      legacy.push(p);
      if (snap !== undefined) continue;
      const buf = await fsp.readFile(p);
      const r = decodeRecord(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      if (!r.ok) bad.push(corrupt(p, r.reason));
      else map.set(path.relative(root, p).slice(0, -SUFFIX.length).split(path.sep).map(decodeSegment).join('/'), r.value.slice());
    }
  }
  let dropped = 0;
  const replay = journals.filter((g) => snap === undefined || g >= snap);
  for (const g of replay) {
    const file = journalFile(root, g);
    const r = readFrames(file, await fsp.readFile(file), g === replay[replay.length - 1], apply);
    if (r.error !== undefined) bad.push(r.error);
    dropped += r.dropped;
  }
  return { map, corrupt: bad, dropped, maxGen: Math.max(0, ...journals, ...snapshots), anything: journals.length > 0 || legacy.length > 0 || snapshots.length > 1, legacy, temps };
}

// ---------------------------------------------------------------------------------------------
// the store core: one per state dir per process

export interface FileStoreOptions {
  /** Skip fsync (tests of logic only; never in the agent). */
  readonly unsafeNoSync?: boolean;
  /** Journal bytes before a compaction is considered (default 8 MiB; tests use less). */
  readonly compactMinBytes?: number;
}

/** What a store has done since it was opened in this process. */
export interface FileStoreStats {
  /** Puts and deletes acknowledged. */
  readonly writes: number;
  /** Journal bytes appended (frames: headers, keys and values). */
  readonly bytes: number;
  /** Journal flushes (one fdatasync each, shared by every write of the batch). */
  readonly commits: number;
  readonly compactions: number;
  readonly keys: number;
  /** Bytes of keys and values held. */
  readonly liveBytes: number;
}

/** A `Store` on a state dir, with what the kernel contract does not need. */
export interface FileStore extends Store {
  readonly stats: () => FileStoreStats;
  /** Writes a snapshot now and removes the journals it covers. */
  readonly compact: () => Promise<void>;
  /** Waits for pending writes and a running compaction, then closes the journal; a later `fileStore` on the dir opens it again. */
  readonly close: () => Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Keys by directory (everything up to the last `/`), so a prefix listing visits only its subtree. */
class DirIndex {
  private readonly keysIn = new Map<string, Set<string>>();
  private readonly subdirs = new Map<string, Set<string>>();

  private static dirOf(k: string): string {
    return k.slice(0, k.lastIndexOf('/') + 1);
  }
  private static parentOf(d: string): string {
    return d.slice(0, d.lastIndexOf('/', d.length - 2) + 1);
  }
  add(k: string): void {
    let d = DirIndex.dirOf(k);
    let s = this.keysIn.get(d);
    if (s === undefined) this.keysIn.set(d, (s = new Set()));
    s.add(k);
    while (d !== '') {
      const p = DirIndex.parentOf(d);
      let c = this.subdirs.get(p);
      if (c === undefined) this.subdirs.set(p, (c = new Set()));
      if (c.has(d)) break;
      c.add(d);
      d = p;
    }
  }
  remove(k: string): void {
    let d = DirIndex.dirOf(k);
    const s = this.keysIn.get(d);
    if (s === undefined) return;
    s.delete(k);
    // Empty directories go, so deleted networks leave nothing to walk.
    while (d !== '' && (this.keysIn.get(d)?.size ?? 0) === 0 && (this.subdirs.get(d)?.size ?? 0) === 0) {
      this.keysIn.delete(d);
      this.subdirs.delete(d);
      const p = DirIndex.parentOf(d);
      this.subdirs.get(p)?.delete(d);
      d = p;
    }
  }
  keys(prefix: string): string[] {
    const out: string[] = [];
    const visit = (d: string) => {
      for (const k of this.keysIn.get(d) ?? []) if (k.startsWith(prefix)) out.push(k);
      for (const c of this.subdirs.get(d) ?? []) if (c.startsWith(prefix) || prefix.startsWith(c)) visit(c);
    };
    visit(DirIndex.dirOf(prefix));
    return out.sort();
  }
}

class Core {
  readonly root: string;
  private readonly sync: boolean;
  private readonly compactMin: number;
  private readonly map = new Map<string, Uint8Array>();
  private readonly index = new DirIndex();
  private liveBytes = 0;
  readonly ready: Promise<void>;
  private broken: unknown;
  private fh: fsp.FileHandle | undefined;
  private gen = 0;
  private jBytes = 0;
  private queue: Uint8Array[] = [];
  private waiters: Waiter[] = [];
  private committing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  /** A compaction asked for by `compact()`, started by the commit loop between flushes. */
  private wantRotate = false;
  private counters = { writes: 0, bytes: 0, commits: 0, compactions: 0 };

  constructor(root: string, opts: FileStoreOptions) {
    this.root = root;
    this.sync = opts.unsafeNoSync !== true;
    this.compactMin = opts.compactMinBytes ?? COMPACT_MIN;
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  private set(k: string, v: Uint8Array): void {
    const old = this.map.get(k);
    if (old === undefined) this.index.add(k);
    this.liveBytes += v.length - (old?.length ?? -k.length);
    this.map.set(k, v);
  }
  private unset(k: string): boolean {
    const old = this.map.get(k);
    if (old === undefined) return false;
    this.map.delete(k);
    this.index.remove(k);
    this.liveBytes -= old.length + k.length;
    return true;
  }

  private async open(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    const l = await load(this.root);
    if (l.corrupt.length > 0) raise(l.corrupt[0]!);
    for (const [k, v] of l.map) this.set(k, v);
    this.gen = l.maxGen + 1;
    this.fh = await fsp.open(journalFile(this.root, this.gen), 'wx', 0o600);
    if (this.sync) await fsyncDir(this.root);
    // What was loaded (journals of the last run, old-format files) becomes one snapshot.
    if (l.anything) await this.snapshot(this.gen, [...this.map], l.legacy);
    for (const t of l.temps) await fsp.rm(t, { force: true });
  }

  private check(): void {
    if (this.broken !== undefined) {
      raise(weftError('Unavailable', 'store', `The state store in ${this.root} stopped after a failed write (${String((this.broken as Error)?.message ?? this.broken)}); nothing was acknowledged after it`, {
        code: STORE_FAILED,
        value: this.root,
        hint: 'Check the disk (space, errors in dmesg), then restart the agent: it reloads every acknowledged write.',
      }));
    }
  }

  async get(k: string): Promise<Uint8Array | undefined> {
    await this.ready;
    return this.map.get(k)?.slice();
  }

  async keys(prefix: string): Promise<string[]> {
    await this.ready;
    return this.index.keys(prefix);
  }

  async put(k: string, value: Uint8Array): Promise<void> {
    if (k === '') raise(weftError('BadRequest', 'store', 'An empty key cannot be stored'));
    await this.ready;
    this.check();
    const v = value.slice();
    this.set(k, v);
    return this.append(encodeEntry(OP_PUT, k, v));
  }

  async delete(k: string): Promise<boolean> {
    await this.ready;
    this.check();
    if (!this.unset(k)) return false;
    await this.append(encodeEntry(OP_DELETE, k));
    return true;
  }

  /** Queues an entry for the next journal flush; resolves once it is durable. */
  private append(entry: Uint8Array): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.queue.push(entry);
    this.kick();
    return p;
  }

  private kick(): void {
    // Writes made in the same tick, and while a flush is running, share one flush.
    if (this.committing === undefined) this.committing = Promise.resolve().then(() => this.commitLoop());
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.wantRotate) {
        if (this.queue.length === 0) {
          this.wantRotate = false;
          if (this.compacting === undefined) await this.rotate();
          continue;
        }
        const fh = this.fh!;
        const batch = this.queue;
        const waiters = this.waiters;
        this.queue = [];
        this.waiters = [];
        let n = 0;
        for (const e of batch) n += e.length;
        const payload = new Uint8Array(n);
        n = 0;
        for (const e of batch) {
          payload.set(e, n);
          n += e.length;
        }
        const frame = encodeRecord(payload);
        try {
          this.check();
          await fh.write(frame, 0, frame.length, this.jBytes);
          if (this.sync) await fh.datasync();
        } catch (e) {
          // Memory is now ahead of the disk: refuse everything until a restart reloads the disk.
          if (this.broken === undefined) this.broken = e;
          for (const w of [...waiters, ...this.waiters]) w.reject(e);
          this.queue = [];
          this.waiters = [];
          return;
        }
        this.jBytes += frame.length;
        this.counters.writes += batch.length;
        this.counters.bytes += frame.length;
        this.counters.commits++;
        for (const w of waiters) w.resolve();
        if (this.compacting === undefined && this.jBytes > Math.max(this.compactMin, this.liveBytes)) await this.rotate();
      }
    } finally {
      this.committing = undefined;
    }
  }

  /**
   * Starts a new journal and writes the snapshot of everything so far in the background. Until
   * the snapshot is in place a restart replays the old journal and the new one; after, the
   * snapshot and the new one. Called between flushes, so no write is half in either journal.
   */
  private async rotate(): Promise<void> {
    const entries = [...this.map];
    const g = this.gen + 1;
    const fh = await fsp.open(journalFile(this.root, g), 'wx', 0o600);
    if (this.sync) await fsyncDir(this.root);
    const old = this.fh!;
    this.fh = fh;
    this.gen = g;
    this.jBytes = 0;
    await old.close();
    this.compacting = this.snapshot(g, entries, [])
      .catch((e) => {
        // The journals still hold everything; the next rotation tries again.
        void e;
      })
      .finally(() => {
        this.compacting = undefined;
      });
  }

  /** Writes snapshot `g` of `entries`, then removes older journals and snapshots (and converted old-format files). */
  private async snapshot(g: number, entries: [string, Uint8Array][], legacy: readonly string[]): Promise<void> {
    const final = snapshotFile(this.root, g);
    const tmp = `${final}.tmp-${randomBytes(6).toString('hex')}`;
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      let pos = 0;
      let chunk: Uint8Array[] = [];
      let size = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        const payload = new Uint8Array(size);
        let o = 0;
        for (const e of chunk) {
          payload.set(e, o);
          o += e.length;
        }
        const frame = encodeRecord(payload);
        await fh.write(frame, 0, frame.length, pos);
        pos += frame.length;
        chunk = [];
        size = 0;
      };
      for (const [k, v] of entries) {
        const e = encodeEntry(OP_PUT, k, v);
        chunk.push(e);
        size += e.length;
        if (size >= SNAPSHOT_CHUNK) await flush();
      }
      await flush();
      if (this.sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, final);
    if (this.sync) await fsyncDir(this.root);
    this.counters.compactions++;
    for (const n of await fsp.readdir(this.root)) {
      const m = JOURNAL.exec(n) ?? SNAPSHOT.exec(n);
      if (m !== null && Number(m[1]) < g) await fsp.rm(path.join(this.root, n), { force: true });
    }
    for (const p of legacy) await fsp.rm(p, { force: true });
    if (legacy.length > 0) await removeEmptyDirs(this.root);
  }

  async compact(): Promise<void> {
    await this.ready;
    this.check();
    await this.compacting;
    this.wantRotate = true;
    this.kick();
    while (this.committing !== undefined) await this.committing;
    await this.compacting;
  }

  stats(): FileStoreStats {
    return { ...this.counters, keys: this.map.size, liveBytes: this.liveBytes };
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    while (this.committing !== undefined || this.compacting !== undefined) {
      await this.committing;
      await this.compacting;
    }
    await this.fh?.close();
    this.fh = undefined;
    this.broken ??= new Error('the store was closed');
  }
}

async function removeEmptyDirs(dir: string): Promise<boolean> {
  let empty = true;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory() && (await removeEmptyDirs(path.join(dir, e.name)))) await fsp.rmdir(path.join(dir, e.name));
    else empty = false;
  }
  return empty;
}

const open = new Map<string, Core>();

/**
 * The store on `root`. Every call for one directory in a process shares one open store (one
 * journal); `close()` ends it. Two processes must never open one directory (the agent holds it).
 */
export function fileStore(root: string, opts: FileStoreOptions = {}, prefix = ''): FileStore {
  const abs = path.resolve(root);
  let core = open.get(abs);
  if (core === undefined) open.set(abs, (core = new Core(abs, opts)));
  return view(core, prefix);
}

function view(core: Core, prefix: string): FileStore {
  const full = (k: string) => prefix + k;
  return {
    get: (key) => core.get(full(key)),
    put: (key, value) => core.put(full(key), value),
    delete: (key) => core.delete(full(key)),
    keys: async (p = '') => (await core.keys(full(p))).map((k) => k.slice(prefix.length)),
    scope: (p) => view(core, `${prefix}${p}/`),
    stats: () => core.stats(),
    compact: () => core.compact(),
    close: async () => {
      if (open.get(core.root) === core) open.delete(core.root);
      await core.close();
    },
  };
}

/**
 * Checks every state file under `root` (snapshot, journals, old-format files) and removes
 * temporaries of interrupted writes (never visible as values). Returns the corrupt files; the
 * agent refuses to start on any. `dropped`: bytes of a last journal write cut short by a crash.
 */
export async function verifyStore(root: string): Promise<{ files: number; corrupt: WeftError[]; removedTemp: number; dropped: number }> {
  const l = await load(root);
  for (const t of l.temps) await fsp.rm(t, { force: true });
  return { files: l.map.size, corrupt: l.corrupt, removedTemp: l.temps.length, dropped: l.dropped };
}

/** Every key and value under `root`, read without writing anything (a store another process may hold). Throws on a corrupt file. */
export async function readStore(root: string, prefix = ''): Promise<Map<string, Uint8Array>> {
  const l = await load(root);
  if (l.corrupt.length > 0) raise(l.corrupt[0]!);
  const out = new Map<string, Uint8Array>();
  for (const k of [...l.map.keys()].filter((x) => x.startsWith(prefix)).sort()) out.set(k, l.map.get(k)!);
  return out;
}
