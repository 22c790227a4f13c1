/**
 * For the crash test (store.test.ts): opens the store at argv[2] and runs `workers` concurrent
 * streams of transactions until killed. Transaction i of worker j puts t/j/i/x, t/j/i/y, t/j/i/z
 * and last/j = i at one revision, then prints "j i" once the store answered it.
 */
import { openEmbeddedStore } from './store.ts';

const dir = process.argv[2]!;
const workers = Number(process.argv[3] ?? '8');
const store = await openEmbeddedStore({ path: dir });
const enc = (s: string) => new TextEncoder().encode(s);
process.stdout.write('ready\n');
await Promise.all(
  Array.from({ length: workers }, async (_, j) => {
    for (let i = 1; ; i++) {
      const v = enc(`${j}/${i}/${'x'.repeat(200 + ((i * 37) % 300))}`);
      await store.txn({
        compare: [{ key: `last/${j}`, target: 'version', result: '=', value: i - 1 }],
        success: [
          { op: 'put', key: `t/${j}/${i}/x`, value: v },
          { op: 'put', key: `t/${j}/${i}/y`, value: v },
          { op: 'put', key: `t/${j}/${i}/z`, value: v },
          { op: 'put', key: `last/${j}`, value: enc(String(i)) },
        ],
      });
      process.stdout.write(`${j} ${i}\n`);
    }
  }),
);
