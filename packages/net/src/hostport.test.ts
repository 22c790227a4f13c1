import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalIP, joinHostPort, splitHostPort } from './hostport.ts';

test('joinHostPort brackets IPv6 only', () => {
  assert.is(joinHostPort('198.18.0.1', 2377), '198.18.0.1:2377');
  assert.is(joinHostPort('fd18:0:1::1', 2377), '[fd18:0:1::1]:2377');
});

test('splitHostPort: both families, default port, canonical host', () => {
  assert.equal(splitHostPort('198.18.0.1:2377', 1), { ok: true, value: { host: '198.18.0.1', port: 2377, family: 4 } });
  assert.equal(splitHostPort('198.18.0.1', 7946), { ok: true, value: { host: '198.18.0.1', port: 7946, family: 4 } });
  assert.equal(splitHostPort('[FD18:0:1:0:0:0:0:1]:2377', 1), { ok: true, value: { host: 'fd18:0:1::1', port: 2377, family: 6 } });
  assert.equal(splitHostPort('[fd18::1]', 7946), { ok: true, value: { host: 'fd18::1', port: 7946, family: 6 } });
  assert.equal(splitHostPort('fd18::1', 7946), { ok: true, value: { host: 'fd18::1', port: 7946, family: 6 } });
  assert.equal(splitHostPort('[::]:0', 1), { ok: true, value: { host: '::', port: 0, family: 6 } });
});

test('splitHostPort: bad input names the value and what is expected', () => {
  for (const [s, want] of [
    ['198.18.0.300:2377', '"198.18.0.300'],
    ['[fd18::1]:99999', 'port "99999"'],
    ['[fd18::1]:', 'port ""'],
    ['[10.0.0.1', 'invalid address'],
    ['fd18::zz', 'invalid IPv6 address'],
    ['[fd18::1]x', 'invalid'],
  ] as const) {
    const r = splitHostPort(s, 1);
    assert.ok(!r.ok, s);
    if (!r.ok) assert.ok(r.error.includes(want), `${s}: ${r.error}`);
  }
});

test('canonicalIP', () => {
  assert.equal(canonicalIP('FD18:0000::0001'), { ok: true, value: { text: 'fd18::1', family: 6 } });
  assert.equal(canonicalIP('10.0.0.1'), { ok: true, value: { text: '10.0.0.1', family: 4 } });
  assert.not.ok(canonicalIP('nope').ok);
});

test.run();
