/**
 * CI subset of `npm run fuzz`: every harness with a small N (default 2,000; WEFT_FUZZ_N to
 * change), same checks as the long run. Known findings in other packages (lib.ts KNOWN) are
 * counted, not failed; anything new fails with fast-check's shrunk counterexample.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HARNESSES } from './harnesses/mod.ts';
import { HEAP_LIMIT_MB, KNOWN, runHarness } from './lib.ts';
import { amplification } from './amplification.ts';

const N = Number(process.env.WEFT_FUZZ_N ?? 2000);
const SEED = Number(process.env.WEFT_FUZZ_SEED ?? Date.now() % 1_000_000);

for (const h of HARNESSES) {
  test(`fuzz ${h.name}: ${Math.max(1, Math.round(N * (h.scale ?? 1)))} inputs (seed ${SEED})`, async () => {
    const r = await runHarness(h, Math.max(1, Math.round(N * (h.scale ?? 1))), SEED);
    assert.ok(r.maxHeapMB < HEAP_LIMIT_MB, `max heap ${r.maxHeapMB} MB`);
    assert.ok(r.retainedMB < 64, `the run kept ${r.retainedMB} MB after a full GC`);
    for (const k of Object.keys(r.counts).filter((c) => c.startsWith('known.'))) assert.ok(KNOWN[k.slice(6)] !== undefined, `unknown finding id ${k}`);
  });
}

test('a decompression-amplified gossip packet is refused or decoded (timed, not bounded yet)', async () => {
  const a = await amplification();
  assert.ok(a.bytes < 65_507, 'fits one UDP datagram');
  assert.ok(a.messages <= 1024);
});

test.run();
