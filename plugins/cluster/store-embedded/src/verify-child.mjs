// Reads every entry of every database in the LMDB file argv[2], read-only, and prints a summary.
// Run in a child process by store.ts before it opens a database: LMDB trusts its file and may
// crash the process (SIGSEGV, SIGBUS) on a damaged one, which the parent then reports as damage.
// Plain JavaScript so that it runs without a TypeScript loader, under Node and Deno.
import { open } from 'lmdb';

const file = process.argv[2];
const env = open({ path: file, maxDbs: 8, readOnly: true });
let entries = 0;
let bytes = 0;
// Named databases are keys of the main one; a read-only open cannot create a missing one.
const names = new Set([...env.getKeys({})].map(String));
const dbs = ['meta', 'kv', 'log', 'leases'].filter((n) => names.has(n));
for (const name of dbs) {
  const db = env.openDB({ name, keyEncoding: 'binary', encoding: 'binary' });
  for (const { key, value } of db.getRange({})) {
    entries++;
    bytes += key.length + value.length;
  }
}
await env.close();
process.stdout.write(JSON.stringify({ dbs, entries, bytes }) + '\n');
