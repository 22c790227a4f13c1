/** Virtual clock with a binary-heap timer queue. No real timers are used. */
import type { Clock } from '../swim/types.ts';

interface Ev {
  at: number;
  seq: number;
  fn: () => void;
  dead: boolean;
  /** Still in the heap (not yet run or discarded). */
  queued: boolean;
  /** Known not to resolve promises: no need to let microtasks drain afterwards. */
  sync: boolean;
}

const yieldMacro = (): Promise<void> => new Promise((r) => setImmediate(r));

export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private heap: Ev[] = [];
  /** Cancelled events still in the heap. */
  private cancelled = 0;
  events = 0;
  errors: unknown[] = [];

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.schedule(fn, ms, false);
  }
  clearTimeout(h: unknown): void {
    if (h === undefined || h === null) return;
    const ev = h as Ev;
    if (ev.dead) return;
    ev.dead = true;
    if (!ev.queued) return;
    // Cancelled timers (e.g. suspicion timeouts of refuted suspicions, up to 90 s away)
    // would otherwise stay in the heap until due: in large simulations they pile up to
    // millions and make every push/pop slow. Drop them once they are half of the heap.
    if (++this.cancelled > 1024 && this.cancelled * 2 > this.heap.length) this.compact();
  }
  schedule(fn: () => void, ms: number, sync: boolean): Ev {
    const ev: Ev = { at: this.t + Math.max(0, ms || 0), seq: this.seq++, fn, dead: false, queued: true, sync };
    this.push(ev);
    return ev;
  }
  get pending(): number {
    return this.heap.length;
  }

  /** Advance virtual time by `ms`, running every due event in order. */
  async run(ms: number): Promise<void> {
    const end = this.t + ms;
    await yieldMacro();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > end) break;
      this.pop();
      top.queued = false;
      if (top.dead) {
        this.cancelled--;
        continue;
      }
      this.t = top.at;
      this.events++;
      try {
        top.fn();
      } catch (e) {
        this.errors.push(e);
      }
      if (!top.sync) await yieldMacro();
    }
    this.t = end;
    await yieldMacro();
  }

  /** Run until `pred()` holds (checked every `stepMs`) or `maxMs` elapsed; returns elapsed ms or -1. */
  async runUntil(pred: () => boolean, maxMs: number, stepMs = 50): Promise<number> {
    const start = this.t;
    while (this.t - start < maxMs) {
      if (pred()) return this.t - start;
      await this.run(stepMs);
    }
    return pred() ? this.t - start : -1;
  }

  /** Remove cancelled events and rebuild the heap (same order: (at, seq) is a total order). */
  private compact(): void {
    const live: Ev[] = [];
    for (const ev of this.heap) {
      if (ev.dead) ev.queued = false;
      else live.push(ev);
    }
    this.heap = live;
    this.cancelled = 0;
    for (let i = (live.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private less(a: Ev, b: Ev): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  private push(ev: Ev): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Ev, h[p] as Ev)) break;
      const tmp = h[i] as Ev;
      h[i] = h[p] as Ev;
      h[p] = tmp;
      i = p;
    }
  }
  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }
  private siftDown(start: number): void {
    const h = this.heap;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Ev, h[m] as Ev)) m = l;
      if (r < h.length && this.less(h[r] as Ev, h[m] as Ev)) m = r;
      if (m === i) break;
      const tmp = h[i] as Ev;
      h[i] = h[m] as Ev;
      h[m] = tmp;
      i = m;
    }
  }
}
