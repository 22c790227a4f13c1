import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interfaceName } from './mod.ts';

test('interfaceName: prefix + 12 hex digits, stable, at most 15 bytes', () => {
  const n = interfaceName('wft', 'e1');
  assert.match(n, /^wft[0-9a-f]{12}$/);
  assert.is(interfaceName('wft', 'e1'), n);
  assert.is.not(interfaceName('wft', 'e2'), n);
  assert.is(interfaceName('ve', 'e1').slice(2), n.slice(3), 'the same hash whatever the prefix');
  assert.ok(interfaceName('wft', 'x'.repeat(200)).length <= 15);
});

test('interfaceName: distinct for 100,000 endpoint-like IDs', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(interfaceName('ve', `${i.toString(16).padStart(64, '0')}`));
  assert.is(seen.size, 100_000);
});

test('interfaceName: a prefix that would overflow IFNAMSIZ is refused', () => {
  assert.throws(() => interfaceName('weft', 'e1'), /up to 3 lower-case letters, not "weft"/);
});

test.run();
