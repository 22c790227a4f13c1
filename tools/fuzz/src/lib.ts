/**
 * Shared pieces of the fuzz harnesses: byte mutators over seed corpora (fast-check
 * arbitraries, so a failure shrinks to a small counterexample), hostile JSON values,
 * and the runner that drives one harness for N inputs while sampling the heap.
 */
import fc from 'fast-check';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** A full GC, so "heap after" measures what a run retained rather than garbage not yet collected. */
v8.setFlagsFromString('--expose-gc');
const fullGc = vm.runInNewContext('gc') as () => void;

/** One decoder under test. `check` throws (an assertion) when the decoder misbehaves. */
export interface Target<I> {
  readonly arb: fc.Arbitrary<I>;
  /** Runs one input; throws on a finding (escaped exception, unbounded output, forged success). */
  check(input: I): void | Promise<void>;
  /** Counters of the component (drops, malformed, ...) and of the harness itself. */
  counts(): Record<string, number>;
  /** Invariants checked after the run, e.g. "the malformed counter moved". */
  after?(counts: Record<string, number>, inputs: number): void;
  close?(): void | Promise<void>;
}

export interface Harness {
  readonly name: string;
  /** What is fed and what is checked, one sentence (printed and put in the docs). */
  readonly what: string;
  /** Async harnesses run through fc.asyncProperty. */
  readonly async?: boolean;
  /** Fraction of N this harness runs (slow harnesses over real sockets); default 1. */
  readonly scale?: number;
  make(): Promise<Target<any>>;
}

export interface RunResult {
  readonly name: string;
  readonly inputs: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly maxHeapMB: number;
  readonly heapBeforeMB: number;
  readonly heapAfterMB: number;
  /** Heap after a full GC at the end minus after a full GC at the start: what the run kept. */
  readonly retainedMB: number;
  readonly counts: Record<string, number>;
}

const MB = 1024 * 1024;

/** Heap ceiling during any run: a decoder that buffers attacker-chosen sizes trips it. */
export const HEAP_LIMIT_MB = 1024;

/**
 * Findings in other packages, reported (not fixed here: those directories belong to others).
 * Harnesses count them as `known.<id>` and keep going, so a long run still measures the rest;
 * anything else they find fails the run.
 */
export const KNOWN: Readonly<Record<string, string>> = {
  K1: '(fixed) packages/kernel/src/codecs.ts decode(): JSON.stringify of a deeply nested body overflows the stack, so kernel.invoke throws RangeError instead of returning Left (gateway and API answer 500 Internal; the process survives)',
  K2: '(fixed) apps/agent/src/api.ts handle(): new URL() / decodeURIComponent() throw outside the try (paths like "//" or "/networks/%E0"), and listen() has no .catch(): an unhandled rejection, which ends a Node 20 process',
};

export class FuzzFinding extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFinding';
  }
}

export function must(cond: boolean, what: string): asserts cond {
  if (!cond) throw new FuzzFinding(what);
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Runs `h` for `n` inputs from `seed`; throws (with fast-check's shrunk counterexample) on a finding. */
export async function runHarness(h: Harness, n: number, seed: number): Promise<RunResult> {
  const target = await h.make();
  fullGc();
  const heapBefore = process.memoryUsage().heapUsed;
  let maxHeap = heapBefore;
  let count = 0;
  const sample = () => {
    const u = process.memoryUsage().heapUsed;
    if (u > maxHeap) maxHeap = u;
    if (u > HEAP_LIMIT_MB * MB) throw new FuzzFinding(`${h.name}: heap ${Math.round(u / MB)} MB exceeds ${HEAP_LIMIT_MB} MB after ${count} inputs`);
  };
  const t0 = performance.now();
  try {
    await drive();
  } catch (e) {
    // fast-check 4 keeps the predicate's own error in `cause`; put it in the message.
    const cause = e instanceof Error && e.cause !== undefined ? `\nCause: ${e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : String(e.cause)}` : '';
    throw new FuzzFinding(`${h.name}: ${e instanceof Error ? e.message : String(e)}${cause}`);
  } finally {
    await target.close?.();
  }
  async function drive(): Promise<void> {
    if (h.async === true) {
      await fc.assert(
        fc.asyncProperty(target.arb, async (i) => {
          if ((++count & 1023) === 0) sample();
          await target.check(i);
        }),
        { numRuns: n, seed, endOnFailure: false },
      );
    } else {
      fc.assert(
        fc.property(target.arb, (i) => {
          if ((++count & 4095) === 0) sample();
          target.check(i);
        }),
        { numRuns: n, seed, endOnFailure: false },
      );
    }
  }
  const ms = performance.now() - t0;
  sample();
  const counts = target.counts();
  target.after?.(counts, n);
  fullGc();
  const heapAfter = process.memoryUsage().heapUsed;
  return {
    name: h.name,
    inputs: n,
    ms: Math.round(ms),
    perSecond: Math.round((n / ms) * 1000),
    maxHeapMB: Math.round(maxHeap / MB),
    heapBeforeMB: Math.round(heapBefore / MB),
    heapAfterMB: Math.round(heapAfter / MB),
    retainedMB: Math.round((heapAfter - heapBefore) / MB),
    counts,
  };
}

// ---------------------------------------------------------------------------------------------
// Byte mutations

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x40, 0xc0, 0x08];

/** One mutation: [kind, position (scaled to the length), value]. */
type Op = [number, number, number];

function applyOps(seed: Uint8Array, ops: readonly Op[]): Uint8Array {
  let b = Uint8Array.from(seed);
  for (const [kind, posRaw, v] of ops) {
    const pos = b.length === 0 ? 0 : posRaw % b.length;
    switch (kind) {
      case 0: // flip one bit
        if (b.length > 0) b[pos] = b[pos]! ^ (1 << (v & 7));
        break;
      case 1: // set a byte
        if (b.length > 0) b[pos] = v;
        break;
      case 2: {
        // insert 1..4 bytes
        const k = 1 + (v & 3);
        const nb = new Uint8Array(b.length + k);
        nb.set(b.subarray(0, pos));
        nb.fill(v, pos, pos + k);
        nb.set(b.subarray(pos), pos + k);
        b = nb;
        break;
      }
      case 3: {
        // delete 1..8 bytes
        const k = 1 + (v & 7);
        const tail = b.subarray(Math.min(b.length, pos + k));
        const nb = new Uint8Array(pos + tail.length);
        nb.set(b.subarray(0, pos));
        nb.set(tail, pos);
        b = nb;
        break;
      }
      case 4: // truncate
        b = b.slice(0, pos);
        break;
      case 5: {
        // duplicate a chunk at the end
        const k = Math.min(b.length - pos, 1 + v);
        const nb = new Uint8Array(b.length + k);
        nb.set(b);
        nb.set(b.subarray(pos, pos + k), b.length);
        b = nb;
        break;
      }
      case 6: // an interesting byte
        if (b.length > 0) b[pos] = INTERESTING[v % INTERESTING.length]!;
        break;
      default: {
        // an interesting 16- or 32-bit length-like value
        if (b.length >= pos + 2) {
          const w = [0xffff, 0x0000, 0x8000, 0x7fff, 0x0100][v % 5]!;
          b[pos] = w >> 8;
          b[pos + 1] = w & 255;
          if ((v & 8) !== 0 && b.length >= pos + 4) {
            b[pos + 2] = 0xff;
            b[pos + 3] = 0xff;
          }
        }
      }
    }
  }
  return b;
}

const op: fc.Arbitrary<Op> = fc.tuple(fc.nat(7), fc.nat(), fc.nat(255));

/** A seed from `seeds` with 0..8 mutations (0 keeps valid inputs in the mix). */
export function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('mutated(): no seeds');
  return fc.tuple(fc.nat(seeds.length - 1), fc.array(op, { maxLength: 8 })).map(([i, ops]) => applyOps(seeds[i]!, ops));
}

/** Random bytes, mostly mutated seeds: the usual input mix. */
export function bytesMix(seeds: readonly Uint8Array[], maxRandom = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }) }, { weight: 4, arbitrary: mutated(seeds) });
}

// ---------------------------------------------------------------------------------------------
// Hostile JSON

const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

/** JSON texts nobody should send: deep nesting, huge strings, broken syntax, proto keys. */
export const HOSTILE_JSON_TEXT: readonly string[] = [
  deep(20_000, '[', ']'),
  deep(5_000, '{"a":', '}').replace(/}$/, '1}'),
  `{"${'k'.repeat(100_000)}":1}`,
  JSON.stringify({ Name: 'x'.repeat(500_000) }),
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null}',
  '{"Options":{"__proto__":{"isAdmin":true}},"Name":"n"}',
  '[1,2,3',
  '{"a":1,,}',
  '\u0000\u0001',
  'null',
  'true',
  '1e309',
  '-0',
  '"\\ud800"',
  '{"a":"\\u0000"}',
  ' ',
  '{}'.repeat(1000),
  JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ [`k${i}`]: i }))),
];

/** A JSON value with proto keys sprinkled in, wrong types and big numbers. */
export const hostileJsonValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 32, 0.5, '', 'a', '0', '::', '10.0.0.0/8', '999.1.1.1/33', 'ff'.repeat(40)),
    fc.string({ maxLength: 24 }),
    fc.integer(),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'), fc.string({ maxLength: 8 })), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** Puts a proto key and wrong-typed values into a valid object. */
export function mutateObject(base: Record<string, unknown>, keys: readonly string[]): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.nat(Math.max(0, keys.length - 1)), hostileJsonValue, fc.nat(3), fc.constantFrom('__proto__', 'constructor', 'prototype', 'x'))
    .map(([ki, v, how, pk]) => {
      const o: Record<string, unknown> = JSON.parse(JSON.stringify(base));
      const k = keys[ki];
      if (how === 0 && k !== undefined) o[k] = v;
      else if (how === 1 && k !== undefined) delete o[k];
      else if (how === 2) return JSON.parse(`{"${pk}":${JSON.stringify(v) ?? 'null'},${JSON.stringify(o).slice(1)}`) as unknown;
      else o[pk] = { polluted: v };
      return o;
    });
}

/** JSON text: hostile fixed texts, random values, mutated valid bodies, and byte-mutated texts. */
export function jsonTextMix(valid: readonly Record<string, unknown>[]): fc.Arbitrary<string> {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const validBytes = valid.map((v) => enc.encode(JSON.stringify(v)));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_JSON_TEXT) },
    { weight: 3, arbitrary: hostileJsonValue.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 4, arbitrary: fc.nat(valid.length - 1).chain((i) => mutateObject(valid[i]!, Object.keys(valid[i]!))).map((v) => JSON.stringify(v) ?? '') },
    { weight: 2, arbitrary: mutated(validBytes).map((b) => dec.decode(b)) },
  );
}

/** True when no plain object has gained a property from a `__proto__` key. */
export function prototypeClean(): boolean {
  const probe: Record<string, unknown> = {};
  return probe.polluted === undefined && probe.isAdmin === undefined && (Object.prototype as Record<string, unknown>).polluted === undefined;
}
