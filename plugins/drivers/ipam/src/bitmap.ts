/**
 * The address bitmap: one bit per address, split into chunks of 2^16 addresses that are created
 * only when first written (so a /64 costs memory only where it is used). Inside a chunk, 32-bit
 * words carry the bits and a summary level keeps one bit per word meaning "this word is full", so
 * find-first-free skips 1,024 used addresses per summary test. Two hints ("everything below this
 * chunk/word is full") make first-free allocation O(1) amortised.
 *
 * Offsets are numbers for bitmaps of up to 2^32 addresses (every IPv4 pool) and bigints above.
 */

export const CHUNK_SHIFT = 16;
export const CHUNK_BITS = 1 << CHUNK_SHIFT;
const CHUNK_WORDS = CHUNK_BITS >>> 5;
/** Bitmaps are capped at 2^64 addresses, like libnetwork's bitseq (ordinals are uint64). */
export const MAX_BITS = 1n << 64n;
const DENSE_LIMIT = 1 << 16;

const ctz = (x: number): number => 31 - Math.clz32(x & -x);

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export class Chunk {
  readonly words: Uint32Array;
  /** Bit w set ⇔ words[w] is all ones. */
  readonly full: Uint32Array;
  /** Valid bits in this chunk (the last chunk of a bitmap may be short). */
  readonly cap: number;
  used = 0;
  /** Every word below lowWord is full. */
  lowWord = 0;
  constructor(cap: number) {
    this.cap = cap;
    this.words = new Uint32Array((cap + 31) >>> 5);
    this.full = new Uint32Array((this.words.length + 31) >>> 5);
  }
}

export class AddressBitmap {
  readonly size: bigint;
  readonly chunkCount: number;
  /** Set bits. */
  count = 0;
  private readonly dense: (Chunk | undefined)[] | undefined;
  private readonly sparse: Map<number, Chunk> | undefined;
  private lowChunk = 0;
  /** Result of the last successful `scan`. */
  private foundChunk = 0;
  private foundBit = 0;

  constructor(size: bigint) {
    if (size <= 0n || size > MAX_BITS) throw new RangeError(`bitmap size ${size} is out of range (1..2^64)`);
    this.size = size;
    this.chunkCount = Number((size + BigInt(CHUNK_BITS) - 1n) >> BigInt(CHUNK_SHIFT));
    if (this.chunkCount <= DENSE_LIMIT) this.dense = new Array<Chunk | undefined>(this.chunkCount);
    else this.sparse = new Map();
  }

  chunkCap(ci: number): number {
    if (ci < this.chunkCount - 1) return CHUNK_BITS;
    return Number(this.size - BigInt(ci) * BigInt(CHUNK_BITS));
  }

  chunk(ci: number): Chunk | undefined {
    return this.dense !== undefined ? this.dense[ci] : this.sparse!.get(ci);
  }

  private chunkForWrite(ci: number): Chunk {
    let ch = this.chunk(ci);
    if (ch === undefined) {
      ch = new Chunk(this.chunkCap(ci));
      if (this.dense !== undefined) this.dense[ci] = ch;
      else this.sparse!.set(ci, ch);
    }
    return ch;
  }

  /** Indices of the chunks that exist (have been written), ascending. */
  chunkIndices(): number[] {
    const out: number[] = [];
    if (this.dense !== undefined) {
      this.dense.forEach((c, i) => {
        if (c !== undefined) out.push(i);
      });
    } else out.push(...[...this.sparse!.keys()].sort((a, b) => a - b));
    return out;
  }

  // --- bit operations on (chunk, bit) -------------------------------------------------------

  private hasAt(ci: number, bit: number): boolean {
    const ch = this.chunk(ci);
    return ch !== undefined && (ch.words[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private setAt(ci: number, bit: number): boolean {
    const ch = this.chunkForWrite(ci);
    const w = bit >>> 5;
    const m = 1 << (bit & 31);
    const old = ch.words[w]!;
    if ((old & m) !== 0) return false;
    const nw = (old | m) >>> 0;
    ch.words[w] = nw;
    ch.used++;
    this.count++;
    if (nw === 0xffffffff) ch.full[w >>> 5] = ch.full[w >>> 5]! | (1 << (w & 31));
    return true;
  }

  private unsetAt(ci: number, bit: number): boolean {
    const ch = this.chunk(ci);
    if (ch === undefined) return false;
    const w = bit >>> 5;
    const m = 1 << (bit & 31);
    const old = ch.words[w]!;
    if ((old & m) === 0) return false;
    if (old === 0xffffffff) ch.full[w >>> 5] = ch.full[w >>> 5]! & ~(1 << (w & 31));
    ch.words[w] = old & ~m;
    ch.used--;
    this.count--;
    if (w < ch.lowWord) ch.lowWord = w;
    if (ci < this.lowChunk) this.lowChunk = ci;
    return true;
  }

  /** First clear bit in [b, e] of chunk `ci`, or -1. */
  private findInChunk(ci: number, b: number, e: number): number {
    const ch = this.chunk(ci);
    if (ch === undefined) return b;
    if (ch.used === ch.cap) return -1;
    let w = b >>> 5;
    const we = e >>> 5;
    // The hint may be advanced only by a search that covered everything below it.
    const fromLow = b <= ch.lowWord << 5;
    let x: number;
    if (w < ch.lowWord) {
      w = ch.lowWord;
      if (w > we) return -1;
      x = ~ch.words[w]!;
    } else x = ~(ch.words[w]! | ((1 << (b & 31)) - 1));
    if (x === 0) {
      w++;
      for (;;) {
        if (w > we) return -1;
        const s = w >>> 5;
        const m = ch.full[s]! | ((1 << (w & 31)) - 1);
        if (m === -1) {
          w = (s + 1) << 5;
          continue;
        }
        w = (s << 5) + ctz(~m);
        if (w > we) return -1;
        x = ~ch.words[w]!;
        break;
      }
    }
    if (fromLow) ch.lowWord = w;
    const bit = (w << 5) + ctz(x);
    return bit <= e ? bit : -1;
  }

  /** Finds the first clear bit in [(cs,bs), (ce,be)]; the result goes to foundChunk/foundBit. */
  private scan(cs: number, bs: number, ce: number, be: number): boolean {
    const fromLow = cs < this.lowChunk || (cs === this.lowChunk && bs === 0);
    if (cs < this.lowChunk) {
      cs = this.lowChunk;
      bs = 0;
    }
    for (let ci = cs; ci <= ce; ci++) {
      const b = ci === cs ? bs : 0;
      const e = ci === ce ? be : this.chunkCap(ci) - 1;
      if (b > e) continue;
      const r = this.findInChunk(ci, b, e);
      if (r >= 0) {
        if (fromLow) this.lowChunk = ci;
        this.foundChunk = ci;
        this.foundBit = r;
        return true;
      }
    }
    return false;
  }

  // --- number API (bitmaps of up to 2^32 addresses) -----------------------------------------

  has(off: number): boolean {
    return this.hasAt(off >>> CHUNK_SHIFT, off & (CHUNK_BITS - 1));
  }
  /** Sets the bit; false if it was already set. */
  set(off: number): boolean {
    return this.setAt(off >>> CHUNK_SHIFT, off & (CHUNK_BITS - 1));
  }
  /** Clears the bit; false if it was not set. */
  unset(off: number): boolean {
    return this.unsetAt(off >>> CHUNK_SHIFT, off & (CHUNK_BITS - 1));
  }
  /** First clear bit in [from, hi], then in [lo, from); -1 if none. */
  findFree(lo: number, hi: number, from: number = lo): number {
    if (from < lo || from > hi) from = lo;
    if (this.scan(from >>> CHUNK_SHIFT, from & (CHUNK_BITS - 1), hi >>> CHUNK_SHIFT, hi & (CHUNK_BITS - 1))) {
      return this.foundChunk * CHUNK_BITS + this.foundBit;
    }
    if (from > lo && this.scan(lo >>> CHUNK_SHIFT, lo & (CHUNK_BITS - 1), (from - 1) >>> CHUNK_SHIFT, (from - 1) & (CHUNK_BITS - 1))) {
      return this.foundChunk * CHUNK_BITS + this.foundBit;
    }
    return -1;
  }

  // --- bigint API (any size) ----------------------------------------------------------------

  hasBig(off: bigint): boolean {
    return this.hasAt(Number(off >> 16n), Number(off & 0xffffn));
  }
  setBig(off: bigint): boolean {
    return this.setAt(Number(off >> 16n), Number(off & 0xffffn));
  }
  unsetBig(off: bigint): boolean {
    return this.unsetAt(Number(off >> 16n), Number(off & 0xffffn));
  }
  findFreeBig(lo: bigint, hi: bigint, from: bigint = lo): bigint {
    if (from < lo || from > hi) from = lo;
    const c = (v: bigint) => Number(v >> 16n);
    const b = (v: bigint) => Number(v & 0xffffn);
    const found = () => (BigInt(this.foundChunk) << 16n) | BigInt(this.foundBit);
    if (this.scan(c(from), b(from), c(hi), b(hi))) return found();
    if (from > lo && this.scan(c(lo), b(lo), c(from - 1n), b(from - 1n))) return found();
    return -1n;
  }

  /** Set bits in [lo, hi]. */
  countRange(lo: bigint, hi: bigint): bigint {
    let total = 0n;
    const cl = Number(lo >> 16n);
    const chi = Number(hi >> 16n);
    for (const ci of this.chunkIndices()) {
      if (ci < cl || ci > chi) continue;
      const ch = this.chunk(ci)!;
      const b = ci === cl ? Number(lo & 0xffffn) : 0;
      const e = ci === chi ? Number(hi & 0xffffn) : ch.cap - 1;
      if (b === 0 && e === ch.cap - 1) {
        total += BigInt(ch.used);
        continue;
      }
      let n = 0;
      for (let bit = b; bit <= e; ) {
        const w = bit >>> 5;
        const lastInWord = Math.min(e, (w << 5) + 31);
        let word = ch.words[w]!;
        const lowBits = bit & 31;
        const highBits = lastInWord & 31;
        word = (word >>> lowBits) << lowBits;
        if (highBits < 31) word &= (1 << (highBits + 1)) - 1;
        n += popcount32(word);
        bit = lastInWord + 1;
      }
      total += BigInt(n);
    }
    return total;
  }

  /** Replaces chunk `ci` with `words` (used when loading a persisted chunk). */
  loadChunk(ci: number, words: Uint32Array): void {
    const ch = this.chunkForWrite(ci);
    if (words.length !== ch.words.length) throw new RangeError(`chunk ${ci} has ${words.length} words, expected ${ch.words.length}`);
    this.count -= ch.used;
    ch.words.set(words);
    ch.full.fill(0);
    let used = 0;
    for (let w = 0; w < words.length; w++) {
      const x = words[w]!;
      used += popcount32(x);
      if (x === 0xffffffff) ch.full[w >>> 5] = ch.full[w >>> 5]! | (1 << (w & 31));
    }
    ch.used = used;
    ch.lowWord = 0;
    this.count += used;
    this.lowChunk = 0;
  }

  /** Every set bit, ascending (tests and debugging; bigint offsets). */
  *bits(): Generator<bigint> {
    for (const ci of this.chunkIndices()) {
      const ch = this.chunk(ci)!;
      for (let w = 0; w < ch.words.length; w++) {
        let x = ch.words[w]!;
        while (x !== 0) {
          const t = ctz(x);
          yield (BigInt(ci) << 16n) + BigInt((w << 5) + t);
          x &= x - 1;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Run-length encoding of one chunk's words: tokens `varint((n << 2) | kind)`, kind 0 = n empty
// words, 1 = n full words, 2 = n literal words (4 bytes each, little endian) follow. A sparse or
// dense chunk costs a few bytes; a fragmented one at most 1 bit per address plus ~1 %.

export function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

export function writeVarintBig(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

export class Reader {
  pos = 0;
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('truncated');
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new RangeError('varint too long');
  }
  varintBig(): bigint {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 11; i++) {
      const b = this.byte();
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
    throw new RangeError('varint too long');
  }
  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new RangeError('truncated');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }
}

export function encodeWords(out: number[], words: Uint32Array): void {
  let i = 0;
  const n = words.length;
  while (i < n) {
    const x = words[i]!;
    if (x === 0 || x === 0xffffffff) {
      let j = i + 1;
      while (j < n && words[j] === x) j++;
      writeVarint(out, ((j - i) << 2) | (x === 0 ? 0 : 1));
      i = j;
      continue;
    }
    // Literal run: until two consecutive uniform words (a single one is cheaper inline).
    let j = i + 1;
    while (j < n) {
      const y = words[j]!;
      if ((y === 0 || y === 0xffffffff) && j + 1 < n && words[j + 1] === y) break;
      if ((y === 0 || y === 0xffffffff) && j + 1 === n) break;
      j++;
    }
    writeVarint(out, ((j - i) << 2) | 2);
    for (let k = i; k < j; k++) {
      const v = words[k]!;
      out.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
    }
    i = j;
  }
}

export function decodeWords(r: Reader, nWords: number): Uint32Array {
  const words = new Uint32Array(nWords);
  let i = 0;
  while (i < nWords) {
    const tok = r.varint();
    const kind = tok & 3;
    const n = Math.floor(tok / 4);
    if (n === 0 || i + n > nWords || kind === 3) throw new RangeError(`bad run at word ${i}`);
    if (kind === 1) words.fill(0xffffffff, i, i + n);
    else if (kind === 2) for (let k = 0; k < n; k++) words[i + k] = r.u32();
    i += n;
  }
  return words;
}
