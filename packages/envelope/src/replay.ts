/**
 * Sliding anti-replay window over 64-bit sequence numbers (RFC 4303 §3.4.3 with ESN, using the
 * ring-bitmap layout of RFC 6479 so advancing never shifts the whole bitmap).
 *
 * Sequence numbers arrive as two u32 halves (`hi`, `lo`) straight from the header, so the hot
 * path never builds a BigInt. The window covers [top - size + 1, top]; bit `seq mod size` (only
 * the low half matters, because size ≤ 2^24 divides 2^32) says whether that seq was accepted.
 *
 * Callers MUST `check` before opening and `accept` only after the AEAD tag verified: a forged
 * packet with a huge seq then never moves the window (Weave's rule, router/frame_crypto.go).
 */

const TWO32 = 4294967296;

export const MIN_WINDOW = 1024;
export const MAX_WINDOW = 1 << 24;
export const DEFAULT_WINDOW = 1 << 16;

export class ReplayWindow {
  readonly size: number;
  private readonly mask: number;
  /** Allocated on the first accepted packet: SAs that never receive cost nothing. */
  private bits: Uint32Array | undefined;
  private topHi = 0;
  private topLo = 0;

  constructor(size: number = DEFAULT_WINDOW) {
    if (!Number.isInteger(size) || size < MIN_WINDOW || size > MAX_WINDOW || (size & (size - 1)) !== 0) {
      throw new Error(`replay window ${size} must be a power of two between ${MIN_WINDOW} and ${MAX_WINDOW}`);
    }
    this.size = size;
    this.mask = size - 1;
  }

  /** Highest accepted sequence number, or -1n before the first one (diagnostics only). */
  get top(): bigint {
    return this.bits === undefined ? -1n : (BigInt(this.topHi) << 32n) | BigInt(this.topLo);
  }

  /** seq - top as a double: exact within ±2^53, right sign always (that is all the window needs). */
  private ahead(hi: number, lo: number): number {
    return (hi - this.topHi) * TWO32 + (lo - this.topLo);
  }

  /** True when `seq` is new: ahead of the window, or inside it and not yet seen. */
  check(hi: number, lo: number): boolean {
    const bits = this.bits;
    if (bits === undefined) return true;
    const d = this.ahead(hi, lo);
    if (d > 0) return true;
    if (-d >= this.size) return false;
    const b = lo & this.mask;
    return (bits[b >>> 5]! & (1 << (b & 31))) === 0;
  }

  /** Marks `seq` as received, sliding the window forward if it is the new top. Call only after a successful open. */
  accept(hi: number, lo: number): void {
    let bits = this.bits;
    if (bits === undefined) {
      bits = this.bits = new Uint32Array(this.size >>> 5);
      this.topHi = hi;
      this.topLo = lo;
    } else {
      const d = this.ahead(hi, lo);
      if (d > 0) {
        if (d >= this.size) bits.fill(0);
        else this.clear(bits, (this.topLo + 1) & this.mask, d);
        this.topHi = hi;
        this.topLo = lo;
      }
    }
    const b = lo & this.mask;
    bits[b >>> 5]! |= 1 << (b & 31);
  }

  /** Clears `count` (< size) bits of the ring starting at `from`. */
  private clear(bits: Uint32Array, from: number, count: number): void {
    let pos = from;
    let left = count;
    while (left > 0) {
      if ((pos & 31) === 0 && left >= 32) {
        bits[pos >>> 5] = 0;
        pos = (pos + 32) & this.mask;
        left -= 32;
      } else {
        bits[pos >>> 5]! &= ~(1 << (pos & 31));
        pos = (pos + 1) & this.mask;
        left -= 1;
      }
    }
  }
}
