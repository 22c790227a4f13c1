/**
 * VNI allocation (anchors §B.3): a bitmap over the whole 24-bit space; automatic allocation
 * starts at 4096 like swarm's ovmanager, pinned VNIs (`vxlanid_list`) may be anywhere in
 * 1..2^24−1 so a network can meet a foreign VTEP on its VNI.
 */
export const VNI_AUTO_START = 4096;
export const VNI_MAX = 2 ** 24 - 1;

export class VniBitmap {
  private readonly words = new Uint32Array((VNI_MAX + 1) >>> 5);

  has(v: number): boolean {
    return (this.words[v >>> 5]! & (1 << (v & 31))) !== 0;
  }

  set(v: number): void {
    this.words[v >>> 5]! |= 1 << (v & 31);
  }

  clear(v: number): void {
    this.words[v >>> 5]! &= ~(1 << (v & 31));
  }

  clearAll(): void {
    this.words.fill(0);
  }

  /** Lowest free VNI ≥ `from` not in `also`, or -1. Skips full 32-bit words. */
  findFree(from = VNI_AUTO_START, also: ReadonlySet<number> = new Set()): number {
    let v = from;
    while (v <= VNI_MAX) {
      const w = this.words[v >>> 5]!;
      if (w === 0xffffffff) {
        v = ((v >>> 5) + 1) << 5;
        continue;
      }
      if ((w & (1 << (v & 31))) === 0 && !also.has(v)) return v;
      v++;
    }
    return -1;
  }
}
