/**
 * A durable, crash-safe `Store` on the local filesystem — the agent's state dir.
 *
 * Every value is one file: `WEFT` magic, format version, payload length and CRC-32, then the
 * payload. A put writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
 * directory, so after a crash at any instant a key holds its old or its new value, never a mix.
 * A file that fails its checks (torn by a bad disk, truncated, edited by hand) is reported with its
 * path and what to do; it is never silently treated as empty.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { raise, weftError, type Store, type WeftError } from '@weft/kernel';
import { crc32 } from '@weft/net';

export const STORE_CORRUPT = 'WEFT_STORE_CORRUPT';
const MAGIC = [0x57, 0x45, 0x46, 0x54]; // "WEFT"
const VERSION = 1;
const HEADER = 16; // magic 4, version 2, reserved 2, length 4, crc 4
const SUFFIX = '.v';

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

/** Maps a key (`a/b/c`) to a file path; each segment is escaped so no key can leave `root`. */
function encodeSegment(s: string): string {
  const e = encodeURIComponent(s).replace(/\./g, '%2E').replace(/\*/g, '%2A');
  return e === '' ? '%00' : e;
}

/** The directory holding every key that starts with `prefix` (its complete segments). */
function prefixDir(root: string, prefix: string): string {
  const segs = prefix.split('/');
  segs.pop();
  return path.join(root, ...segs.map(encodeSegment));
}

function keyPath(root: string, key: string): string {
  if (key === '') raise(weftError('BadRequest', 'store', 'An empty key cannot be stored'));
  const segs = key.split('/').map(encodeSegment);
  segs[segs.length - 1] += SUFFIX;
  return path.join(root, ...segs);
}

function fileKey(root: string, file: string): string {
  const rel = path.relative(root, file).slice(0, -SUFFIX.length);
  return rel
    .split(path.sep)
    .map((s) => (s === '%00' ? '' : decodeURIComponent(s)))
    .join('/');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Every file under `dir` (records and temporaries alike); a missing `dir` has none. */
async function walk(dir: string, out: string[]): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return out;
}

export interface FileStoreOptions {
  /** Skip fsync (tests of logic only; never in the agent). */
  readonly unsafeNoSync?: boolean;
}

export function fileStore(root: string, opts: FileStoreOptions = {}, prefix = ''): Store {
  const sync = opts.unsafeNoSync !== true;
  const full = (k: string) => prefix + k;
  return {
    async get(key) {
      const file = keyPath(root, full(key));
      let buf: Buffer;
      try {
        buf = await fsp.readFile(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      const r = decodeRecord(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      if (!r.ok) raise(corrupt(file, r.reason));
      return r.value.slice();
    },
    async put(key, value) {
      const file = keyPath(root, full(key));
      const dir = path.dirname(file);
      await fsp.mkdir(dir, { recursive: true });
      const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(encodeRecord(value));
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
      if (sync) await fsyncDir(dir);
    },
    async delete(key) {
      const file = keyPath(root, full(key));
      try {
        await fsp.unlink(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
      if (sync) await fsyncDir(path.dirname(file));
      return true;
    },
    async keys(p = '') {
      const want = full(p);
      // Only the prefix's own directory is walked: listing one network's endpoints does not read
      // the whole state directory (which holds 10,000s of records on a busy host).
      const files = (await walk(prefixDir(root, want), [])).filter((f) => f.endsWith(SUFFIX));
      return files
        .map((f) => fileKey(root, f))
        .filter((k) => k.startsWith(want))
        .map((k) => k.slice(prefix.length))
        .sort();
    },
    scope(p) {
      return fileStore(root, opts, `${prefix}${p}/`);
    },
  };
}

/**
 * Checks every state file under `root` and removes leftover temporary files from interrupted
 * writes (never visible as values). Returns the corrupt files; the agent refuses to start on any.
 */
export async function verifyStore(root: string): Promise<{ files: number; corrupt: WeftError[]; removedTemp: number }> {
  const corruptList: WeftError[] = [];
  let files = 0;
  let removedTemp = 0;
  for (const p of await walk(root, [])) {
    const name = path.basename(p);
    if (/\.v\.tmp-[0-9a-f]+$/.test(name)) {
      await fsp.unlink(p);
      removedTemp++;
    } else if (name.endsWith(SUFFIX)) {
      files++;
      const buf = await fsp.readFile(p);
      const r = decodeRecord(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      if (!r.ok) corruptList.push(corrupt(p, r.reason));
    }
  }
  return { files, corrupt: corruptList, removedTemp };
}
