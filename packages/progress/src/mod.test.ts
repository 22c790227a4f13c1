import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgress, duration } from './mod.ts';

test('not a terminal: one line per step with the time left, estimated from the units done', () => {
  let t = 0;
  const lines: string[] = [];
  const p = createProgress({ title: 'fuzz', total: 300, out: { write: (s: string) => void lines.push(s) }, now: () => t });
  p.step('a', 100);
  t = 10_000;
  p.advance(100);
  p.step('b', 200);
  t = 20_000;
  p.advance(50);
  p.done();
  assert.equal(lines, ['[fuzz] 1 a 0% · 0s\n', '[fuzz] 2 b 33% · 10s · ~20s left\n', '[fuzz] done in 20s\n']);
});

test('a terminal: one status line redrawn in place, cleared at the end', () => {
  let t = 0;
  let s = '';
  const p = createProgress({ title: 'bench', total: 4, out: { isTTY: true, write: (x: string) => void (s += x) }, now: () => t });
  p.step('vxlan');
  t = 60_000;
  p.step('dns');
  p.done();
  assert.match(s, '\r\x1b[K[bench] 1 vxlan 0% · 0s');
  assert.match(s, '\r\x1b[K[bench] 2 dns 25% · 1m00s · ~3m00s left');
  assert.ok(s.endsWith('\r\x1b[K[bench] done in 1m00s\n'));
  assert.is(s.includes('\n[bench] 1'), false, 'no line per step on a terminal');
});

test('durations', () => {
  assert.equal([duration(0), duration(45_000), duration(185_000), duration(3_720_000)], ['0s', '45s', '3m05s', '1h02m']);
});

test.run();
