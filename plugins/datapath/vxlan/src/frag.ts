/**
 * Fragmented envelopes (Weft ↔ Weft, encrypted networks only; see docs/wire.md). A TCP
 * super-frame read from a TAP (up to 64 KiB behind its virtio header) is sealed as ONE envelope,
 * and the envelope's bytes are carried in datagrams no larger than the per-segment ones, each
 * behind a 16-byte fragment header:
 *
 *   0            4            8              12           14      15      16
 *   | 00 00 00 F1 | group (u32) | total (u32) | chunk (u16) | index | count | envelope[index*chunk ..)
 *
 * - The first word is in the SPI range RFC 4303 reserves (1..255), which no envelope uses, and
 *   is not VXLAN's first word, so a receiver tells fragment, envelope and plaintext VXLAN apart
 *   from 4 bytes.
 * - group: the low 32 bits of the envelope's sequence number (unique per sender while in flight).
 * - total: envelope length; chunk: bytes per fragment except the last; count = ceil(total/chunk).
 *
 * Nothing here is trusted: the header only places bytes. The envelope's tag, checked after
 * reassembly, authenticates every byte, and its sequence number goes through the replay window.
 * A group that never completes is evicted when a newer one needs its slot, and counted.
 */
export const FRAG_MARKER = 0x000000f1;
export const FRAG_HDR = 16;
/** At most this many fragments per envelope (the bitmap is two 32-bit words). */
export const FRAG_MAX_COUNT = 64;

/** Writes the fragment header at b[o..o+16). */
export function writeFragHeader(b: Uint8Array, o: number, group: number, total: number, chunk: number, index: number, count: number): void {
  b[o] = 0;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = FRAG_MARKER;
  b[o + 4] = group >>> 24;
  b[o + 5] = (group >>> 16) & 255;
  b[o + 6] = (group >>> 8) & 255;
  b[o + 7] = group & 255;
  b[o + 8] = total >>> 24;
  b[o + 9] = (total >>> 16) & 255;
  b[o + 10] = (total >>> 8) & 255;
  b[o + 11] = total & 255;
  b[o + 12] = chunk >>> 8;
  b[o + 13] = chunk & 255;
  b[o + 14] = index;
  b[o + 15] = count;
}

/** True when b[p..p+4) is the fragment marker word. */
export function isFragment(b: Uint8Array, p: number): boolean {
  return b[p] === 0 && b[p + 1] === 0 && b[p + 2] === 0 && b[p + 3] === FRAG_MARKER;
}

/** Fragments needed for an envelope of `total` bytes in datagrams of at most `datagram` bytes. */
export function fragCount(total: number, datagram: number): number {
  const chunk = datagram - FRAG_HDR;
  return chunk <= 0 ? Infinity : Math.ceil(total / chunk);
}

/** Result codes of `Reassembly.add` (≥ 0 is a completed slot). */
export const PENDING = -1;
export const MALFORMED = -2;
export const DUPLICATE = -3;

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * Reassembles fragmented envelopes into a fixed set of preallocated slots (no allocation per
 * packet). A slot is keyed by (sender address, group). When every slot is busy, the one whose
 * group started longest ago is evicted (`evicted` counts the groups lost that way).
 */
export class Reassembly {
  readonly slots: number;
  readonly capacity: number;
  /** Groups dropped incomplete to make room, fragments that did not fit their group, repeated fragments. */
  evicted = 0;
  malformed = 0;
  duplicates = 0;
  private readonly buf: Uint8Array;
  private readonly used: Uint8Array;
  private readonly src: Uint32Array;
  private readonly group: Uint32Array;
  private readonly total: Uint32Array;
  private readonly chunk: Uint32Array;
  private readonly count: Uint32Array;
  private readonly got: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  private readonly born: Float64Array;
  private clock = 0;

  constructor(slots = 8, capacity = 70_000, buf?: Uint8Array) {
    if (!Number.isInteger(slots) || slots < 1) throw new Error(`reassembly: slots must be a positive integer, got ${slots}`);
    this.slots = slots;
    this.capacity = capacity;
    this.buf = buf ?? new Uint8Array(slots * capacity);
    if (this.buf.length < slots * capacity) throw new Error(`reassembly: buffer of ${this.buf.length} bytes cannot hold ${slots} slots of ${capacity}`);
    this.used = new Uint8Array(slots);
    this.src = new Uint32Array(slots);
    this.group = new Uint32Array(slots);
    this.total = new Uint32Array(slots);
    this.chunk = new Uint32Array(slots);
    this.count = new Uint32Array(slots);
    this.got = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
    this.hi = new Uint32Array(slots);
    this.born = new Float64Array(slots);
  }

  /** The completed envelope of slot `s` (valid until `release(s)`). */
  bytes(s: number): Uint8Array {
    const o = s * this.capacity;
    return this.buf.subarray(o, o + this.total[s]!);
  }
  length(s: number): number {
    return this.total[s]!;
  }
  release(s: number): void {
    this.used[s] = 0;
  }
  /** Slots holding an incomplete group. */
  pending(): number {
    let n = 0;
    for (let s = 0; s < this.slots; s++) n += this.used[s]!;
    return n;
  }

  /**
   * Takes the fragment datagram b[p..p+len) from sender `src`. Returns the slot whose envelope
   * is now complete, or PENDING, MALFORMED (counted) or DUPLICATE (counted).
   */
  add(b: Uint8Array, p: number, len: number, src: number): number {
    if (len <= FRAG_HDR || !isFragment(b, p)) return this.bad();
    const group = u32(b, p + 4);
    const total = u32(b, p + 8);
    const chunk = (b[p + 12]! << 8) | b[p + 13]!;
    const index = b[p + 14]!;
    const count = b[p + 15]!;
    const n = len - FRAG_HDR;
    if (total === 0 || total > this.capacity || chunk === 0 || count === 0 || count > FRAG_MAX_COUNT || index >= count) return this.bad();
    if (count !== Math.ceil(total / chunk)) return this.bad();
    if (n !== (index === count - 1 ? total - index * chunk : chunk)) return this.bad();
    let s = -1;
    let free = -1;
    let oldest = -1;
    for (let i = 0; i < this.slots; i++) {
      if (this.used[i] === 0) {
        if (free < 0) free = i;
        continue;
      }
      if (this.group[i] === group && this.src[i] === src) {
        s = i;
        break;
      }
      if (oldest < 0 || this.born[i]! < this.born[oldest]!) oldest = i;
    }
    if (s >= 0) {
      if (this.total[s] !== total || this.chunk[s] !== chunk) return this.bad();
    } else {
      if (free >= 0) s = free;
      else {
        s = oldest;
        this.evicted++;
      }
      this.used[s] = 1;
      this.src[s] = src;
      this.group[s] = group;
      this.total[s] = total;
      this.chunk[s] = chunk;
      this.count[s] = count;
      this.got[s] = 0;
      this.lo[s] = 0;
      this.hi[s] = 0;
      this.born[s] = this.clock++;
    }
    const bit = 1 << (index & 31);
    if (index < 32) {
      if ((this.lo[s]! & bit) !== 0) return this.dup();
      this.lo[s] = (this.lo[s]! | bit) >>> 0;
    } else {
      if ((this.hi[s]! & bit) !== 0) return this.dup();
      this.hi[s] = (this.hi[s]! | bit) >>> 0;
    }
    this.buf.set(b.subarray(p + FRAG_HDR, p + len), s * this.capacity + index * chunk);
    if (++this.got[s]! < count) return PENDING;
    return s;
  }

  private bad(): number {
    this.malformed++;
    return MALFORMED;
  }
  private dup(): number {
    this.duplicates++;
    return DUPLICATE;
  }
}
