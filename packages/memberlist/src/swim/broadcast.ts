/**
 * Retransmit-limited broadcast queue (memberlist TransmitLimitedQueue semantics):
 * a newer message with the same key replaces the older one; least-transmitted first,
 * then largest; each message goes out at most `retransmitMult × ceil(log10(n + 1))` times.
 */
export interface Broadcast {
  readonly key: string | undefined;
  readonly msg: Uint8Array;
  /** Only send to Weft nodes (never to serf agents). */
  readonly weftOnly: boolean;
  readonly onDone?: () => void;
}

interface Item {
  b: Broadcast;
  transmits: number;
  id: number;
}

export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

export class BroadcastQueue {
  private items: Item[] = [];
  private byKey = new Map<string, Item>();
  private nextId = 0;

  get length(): number {
    return this.items.length;
  }

  queue(b: Broadcast): void {
    if (b.key !== undefined) {
      const old = this.byKey.get(b.key);
      if (old !== undefined) {
        this.items.splice(this.items.indexOf(old), 1);
        old.b.onDone?.();
      }
    }
    const it: Item = { b, transmits: 0, id: this.nextId++ };
    this.items.push(it);
    if (b.key !== undefined) this.byKey.set(b.key, it);
  }

  /** Pick messages fitting `limit` bytes (each costs `overhead` extra). */
  get(overhead: number, limit: number, transmitLimit: number, allowWeftOnly: boolean, maxCount = 255): Uint8Array[] {
    if (this.items.length === 0) return [];
    this.items.sort((a, b) => a.transmits - b.transmits || b.b.msg.length - a.b.msg.length || b.id - a.id);
    const out: Uint8Array[] = [];
    let used = 0;
    const done: Item[] = [];
    for (const it of this.items) {
      if (out.length >= maxCount) break;
      if (it.b.weftOnly && !allowWeftOnly) continue;
      const cost = overhead + it.b.msg.length;
      if (used + cost > limit) continue;
      used += cost;
      out.push(it.b.msg);
      it.transmits++;
      if (it.transmits >= transmitLimit) done.push(it);
    }
    if (done.length > 0) {
      const dead = new Set(done);
      this.items = this.items.filter((i) => !dead.has(i));
      for (const d of done) {
        if (d.b.key !== undefined && this.byKey.get(d.b.key) === d) this.byKey.delete(d.b.key);
        d.b.onDone?.();
      }
    }
    return out;
  }

  /** Drop everything (on shutdown); completes waiters. */
  reset(): void {
    const all = this.items;
    this.items = [];
    this.byKey.clear();
    for (const i of all) i.b.onDone?.();
  }
}
