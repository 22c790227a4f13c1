import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDuration, readInt, readKeyValue, readPortMap, readPublish, splitHostPort } from './values.ts';

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const error = (r: { ok: boolean; error?: string }): string => {
  assert.is(r.ok, false);
  return r.error ?? '';
};

test('durations: Go units, compound, fractions; clear errors', () => {
  assert.is(ok(parseDuration('12h')), 12 * 3600_000);
  assert.is(ok(parseDuration('30m')), 30 * 60_000);
  assert.is(ok(parseDuration('90s')), 90_000);
  assert.is(ok(parseDuration('1h30m')), 90 * 60_000);
  assert.is(ok(parseDuration('1.5h')), 90 * 60_000);
  assert.is(ok(parseDuration('250ms')), 250);
  assert.is(ok(parseDuration('0')), 0);
  assert.match(error(parseDuration('12')), 'missing unit after 12');
  assert.match(error(parseDuration('12x')), 'unknown unit "x"');
  assert.match(error(parseDuration('12x')), 'such as 90s, 30m, 12h');
  assert.match(error(parseDuration('h')), 'invalid duration "h"');
  assert.match(error(parseDuration('')), 'empty duration');
  assert.match(error(parseDuration('-5m')), 'invalid duration');
});

test('ints and key=value', () => {
  assert.is(ok(readInt('42', 0)), 42);
  assert.match(error(readInt('4x')), 'not a whole number');
  assert.match(error(readInt('-1', 0)), 'below the minimum 0');
  assert.match(error(readInt('70000', 1, 65535)), 'above the maximum 65535');
  assert.equal(ok(readKeyValue('a=b=c', false)), { key: 'a', value: 'b=c' });
  assert.equal(ok(readKeyValue('encrypted', false)), { key: 'encrypted', value: '' });
  assert.match(error(readKeyValue('host1', true, 'NAME=IP')), 'is not NAME=IP');
  assert.match(error(readKeyValue('=x', false)), 'has no key');
});

test('--publish: long and short forms', () => {
  assert.equal(ok(readPublish('published=8080,target=80')), { published: 8080, target: 80, protocol: 'tcp', mode: 'ingress' });
  assert.equal(ok(readPublish('published=53,target=53,protocol=udp,mode=host')), { published: 53, target: 53, protocol: 'udp', mode: 'host' });
  assert.equal(ok(readPublish('target=80')), { target: 80, protocol: 'tcp', mode: 'ingress' });
  assert.equal(ok(readPublish('8080:80/udp')), { published: 8080, target: 80, protocol: 'udp', mode: 'ingress' });
  assert.equal(ok(readPublish('80')), { target: 80, protocol: 'tcp', mode: 'ingress' });
  assert.match(error(readPublish('published=8080')), 'target=PORT is required');
  assert.match(error(readPublish('published=8080,target=80,mode=nat')), 'invalid publish mode "nat"');
  assert.match(error(readPublish('published=8080,target=80,protocol=sctp')), 'use tcp or udp');
  assert.match(error(readPublish('published=8080,target=80,color=red')), 'unknown field "color"');
  assert.match(error(readPublish('published=0,target=80')), 'a port is a number 1-65535');
});

test('-p: [HOST_IP:]HOST_PORT:PORT[/proto]', () => {
  assert.equal(ok(readPortMap('8080:80')), { hostPort: 8080, port: 80, protocol: 'tcp' });
  assert.equal(ok(readPortMap('127.0.0.1:5353:53/udp')), { hostIp: '127.0.0.1', hostPort: 5353, port: 53, protocol: 'udp' });
  assert.equal(ok(readPortMap('[::1]:8080:80/tcp')), { hostIp: '::1', hostPort: 8080, port: 80, protocol: 'tcp' });
  assert.match(error(readPortMap('80')), 'use [HOST_IP:]HOST_PORT:PORT');
  assert.match(error(readPortMap('8080:80/icmp')), 'use tcp or udp');
  assert.match(error(readPortMap('8080:99999')), 'invalid sandbox port "99999"');
  assert.equal(ok(readPortMap('[::]:8080:80')), { hostIp: '::', hostPort: 8080, port: 80, protocol: 'tcp' });
  assert.match(error(readPortMap('[::1:80')), 'the IPv6 host address has no closing bracket');
  assert.match(error(readPortMap('[::]80:80')), 'must be followed by :HOST_PORT:PORT');
  assert.match(error(readPortMap('[::]:x:80')), 'invalid host port "x"');
  assert.match(error(readPortMap('::1:8080:80')), 'an IPv6 host address goes in brackets');
});

test('IP:PORT', () => {
  assert.equal(ok(splitHostPort('10.0.0.1:2377')), { host: '10.0.0.1', port: 2377 });
  assert.equal(ok(splitHostPort('[fd00::1]:2377')), { host: 'fd00::1', port: 2377 });
  assert.match(error(splitHostPort('10.0.0.1')), 'is not IP:PORT');
});

test.run();
