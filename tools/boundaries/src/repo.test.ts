/**
 * The repository's own boundaries (run in CI through `npm test`): no plugin's runtime code imports
 * another plugin, no plugin depends on one, no import cycles, no `export *`. See boundaries.ts for
 * the rules and what counts as runtime code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { check, key, REPO_ROOT } from './boundaries.ts';

/**
 * Violations tolerated for now. Empty since issue #17 landed (it held 77 when the check was
 * introduced); it may only shrink: the test fails on any violation not listed here, and on any
 * listed one that no longer exists. Never add to it.
 */
const KNOWN: readonly string[] = [];

test('no boundary violation beyond the known ones, and every known one still exists', async () => {
  const found = await check(REPO_ROOT);
  const known = new Set(KNOWN);
  const fresh = found.filter((v) => !known.has(key(v)));
  const foundKeys = new Set(found.map(key));
  const gone = KNOWN.filter((k) => !foundKeys.has(k));
  const report = [
    ...fresh.map((v) => `NEW ${key(v)}\n    ${v.message}`),
    ...gone.map((k) => `FIXED (delete this line from KNOWN in tools/boundaries/src/repo.test.ts) ${k}`),
  ];
  if (report.length > 0) assert.unreachable(`${report.length} boundary problem${report.length === 1 ? '' : 's'}:\n${report.join('\n')}`);
  assert.is(new Set(KNOWN).size, KNOWN.length, 'KNOWN lists each violation once');
});

test.run();
