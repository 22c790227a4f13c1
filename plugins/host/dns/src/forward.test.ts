import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { DNS_RCODE, DNS_TYPE, buildDnsResponse, parseDnsMessage, parseIPv4, ipv4, unwrap } from '@weft/net';
import { createResolver } from './resolver.ts';
import { serveUdp } from './udp.ts';
import { addrs, entry, ev, parse, query, rec } from './_testutil.ts';

interface FakeUpstream {
  readonly port: number;
  seen: number;
  close(): Promise<void>;
}

/** A UDP DNS server on 127.0.0.1 answering A queries with `addr`, or not at all (`silent`), after `delayMs`. */
const fakeUpstream = (behaviour: { addr?: string; rcode?: number; silent?: boolean; delayMs?: number; wrongId?: boolean }): Promise<FakeUpstream> =>
  new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const state = { seen: 0 };
    sock.on('message', (msg, rinfo) => {
      state.seen++;
      if (behaviour.silent === true) return;
      const q = unwrap(parseDnsMessage(new Uint8Array(msg)));
      const answers = behaviour.addr === undefined ? [] : [{ type: DNS_TYPE.A, ttl: 60, data: ipv4(unwrap(parseIPv4(behaviour.addr))) }];
      const reply = unwrap(buildDnsResponse(q, { rcode: behaviour.rcode ?? DNS_RCODE.NOERROR, answers, authoritative: false }));
      if (behaviour.wrongId === true) reply[0] = reply[0]! ^ 0xff;
      setTimeout(() => sock.send(reply, rinfo.port, rinfo.address), behaviour.delayMs ?? 0);
    });
    sock.bind(0, '127.0.0.1', () =>
      resolve({
        port: sock.address().port,
        get seen() { return state.seen; },
        set seen(v) { state.seen = v; },
        close: () => new Promise<void>((res) => sock.close(() => res())),
      }),
    );
  });

test('external names are forwarded and the upstream reply relayed', async () => {
  const up = await fakeUpstream({ addr: '93.184.216.34' });
  const r = createResolver({ upstreams: [`127.0.0.1:${up.port}`], forwardTimeoutMs: 500 });
  const q = query('example.com');
  assert.is(r.answer(q, q.length, 'n'), 'forward');
  const m = parse(await r.forward(q));
  assert.equal(addrs(m), ['93.184.216.34']);
  assert.is(m.id, (q[0]! << 8) | q[1]!);
  assert.is(m.answers[0]!.ttl, 60, 'the upstream TTL is passed through');
  const c = r.counters();
  assert.is(c.forwarded, 1);
  assert.is(c.forwardAnswers, 1);
  await up.close();
});

test('timeout on the first upstream fails over to the second; replies with the wrong ID are ignored', async () => {
  const dead = await fakeUpstream({ silent: true });
  const liar = await fakeUpstream({ addr: '6.6.6.6', wrongId: true });
  const good = await fakeUpstream({ addr: '1.2.3.4' });
  const r = createResolver({ upstreams: [`127.0.0.1:${dead.port}`, `127.0.0.1:${liar.port}`, `127.0.0.1:${good.port}`], forwardTimeoutMs: 150 });
  const t0 = Date.now();
  const m = parse(await r.resolve(query('www.example.org'), Infinity, 'n'));
  assert.equal(addrs(m), ['1.2.3.4']);
  assert.ok(Date.now() - t0 >= 280, 'waited for two timeouts');
  assert.is(dead.seen, 1);
  assert.is(liar.seen, 1);
  assert.is(r.counters().upstreamTimeouts, 2);
  await Promise.all([dead.close(), liar.close(), good.close()]);
});

test('SERVFAIL from an upstream moves on to the next one', async () => {
  const bad = await fakeUpstream({ rcode: DNS_RCODE.SERVFAIL });
  const good = await fakeUpstream({ addr: '1.2.3.5' });
  const r = createResolver({ upstreams: [`127.0.0.1:${bad.port}`, `127.0.0.1:${good.port}`], forwardTimeoutMs: 300 });
  assert.equal(addrs(parse(await r.resolve(query('a.example'), Infinity, 'n'))), ['1.2.3.5']);
  const nx = await fakeUpstream({ rcode: DNS_RCODE.NXDOMAIN });
  r.setUpstreams([`127.0.0.1:${nx.port}`, `127.0.0.1:${good.port}`]);
  assert.is(parse(await r.resolve(query('b.example'), Infinity, 'n')).rcode, DNS_RCODE.NXDOMAIN, "an upstream's NXDOMAIN is an answer");
  await Promise.all([bad.close(), good.close(), nx.close()]);
});

test('all upstreams failing (or none configured) gives SERVFAIL', async () => {
  const dead = await fakeUpstream({ silent: true });
  const r = createResolver({ upstreams: [`127.0.0.1:${dead.port}`], forwardTimeoutMs: 100 });
  const q = query('gone.example');
  const m = parse(await r.resolve(q, q.length, 'n'));
  assert.is(m.rcode, DNS_RCODE.SERVFAIL);
  assert.is(m.questions[0]!.name, 'gone.example');
  assert.is(r.counters().forwardFailures, 1);
  const none = createResolver();
  assert.is(parse(await none.resolve(query('x.example'), Infinity, 'n')).rcode, DNS_RCODE.SERVFAIL);
  assert.not.ok(parse(none.answer(query('web'), Infinity, 'n')).ra, 'RA clear without upstreams');
  await dead.close();
});

test('the concurrency cap answers SERVFAIL at once beyond the limit', async () => {
  const slow = await fakeUpstream({ addr: '1.1.1.1', delayMs: 150 });
  const r = createResolver({ upstreams: [`127.0.0.1:${slow.port}`], forwardTimeoutMs: 1000, maxConcurrentForwards: 3 });
  const pending = [0, 1, 2, 3, 4].map((i) => r.forward(query(`q${i}.example`)));
  assert.is(r.inflight(), 3);
  const replies = (await Promise.all(pending)).map((b) => parse(b).rcode);
  assert.equal(replies, [0, 0, 0, DNS_RCODE.SERVFAIL, DNS_RCODE.SERVFAIL]);
  assert.is(r.counters().forwardRejected, 2);
  assert.is(slow.seen, 3);
  assert.is(r.inflight(), 0);
  assert.equal(addrs(parse(await r.forward(query('after.example')))), ['1.1.1.1'], 'slots are released');
  await slow.close();
});

test('serveUdp answers over a real socket: table names, NXDOMAIN, forwarded names', async () => {
  const up = await fakeUpstream({ addr: '9.9.9.9' });
  const r = createResolver({ upstreams: [`127.0.0.1:${up.port}`], forwardTimeoutMs: 500 });
  r.apply(ev('create', entry('n', 'e1', rec('web', '10.0.0.2'))));
  const srv = await serveUdp(r, '127.0.0.1', 0, 'n');
  const client = dgram.createSocket('udp4');
  const exchange = (q: Uint8Array) =>
    new Promise<Uint8Array>((resolve) => {
      client.once('message', (m) => resolve(new Uint8Array(m)));
      client.send(q, srv.port, '127.0.0.1');
    });
  assert.equal(addrs(parse(await exchange(query('web')))), ['10.0.0.2']);
  assert.is(parse(await exchange(query('nope'))).rcode, DNS_RCODE.NXDOMAIN);
  assert.equal(addrs(parse(await exchange(query('example.net')))), ['9.9.9.9']);
  client.close();
  await srv.close();
  await up.close();
});

test.run();
