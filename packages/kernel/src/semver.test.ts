import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { satisfies } from './semver.ts';

test('ranges', () => {
  const cases: [string, string, boolean | undefined][] = [
    ['0.1.0', '^0.1.0', true], ['0.2.0', '^0.1.0', false], ['0.1.5', '^0.1', true], ['1.4.0', '^1.2.0', true], ['2.0.0', '^1.2.0', false],
    ['1.2.9', '~1.2.0', true], ['1.3.0', '~1.2.0', false], ['1.0.0', '>=0.1.0 <2.0.0', true], ['2.0.0', '>=0.1.0 <2.0.0', false],
    ['3.0.0', '1.x || 3.x', true], ['5.0.0', '*', true], ['0.1.0', 'banana', undefined], ['x', '*', undefined], ['0.0.3', '^0.0.3', true], ['0.0.4', '^0.0.3', false],
  ];
  for (const [v, r, want] of cases) assert.is(satisfies(v, r), want, `${v} in ${r}`);
});

test.run();
