import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { createMembership } from '../mod.ts';
import { createNodeTransport } from './node.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcpSend(host: string, port: number, data: Uint8Array, close: 'end' | 'destroy' | 'keep'): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port }, () => {
      s.write(data);
      if (close === 'end') s.end();
      if (close === 'destroy') s.destroy();
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    setTimeout(() => s.destroy(), 1500);
  });
}

test('real transport: two nodes on loopback gossip; garbage input is counted and dropped', async () => {
  const mk = (name: string, ip: string) =>
    createMembership({
      name,
      bindAddr: ip,
      bindPort: 0,
      meta: { role: 't' },
      transport: createNodeTransport({ bindAddr: ip, bindPort: 0, streamTimeout: 500 }),
      config: { probeInterval: 200, probeTimeout: 100, gossipInterval: 50 },
    });
  const a = mk('a', '127.0.79.1');
  const b = mk('b', '127.0.79.2');
  try {
    await a.start();
    await b.start();
    const pa = a.localNode().port;
    assert.ok(pa > 0);
    // garbage: UDP
    const u = dgram.createSocket('udp4');
    for (let i = 0; i < 200; i++) u.send(randomBytes(1 + (i % 300)), pa, '127.0.79.1');
    u.send(Uint8Array.from([12, 0, 0, 0, 0, 7]), pa, '127.0.79.1'); // bad CRC
    await sleep(100);
    u.close();
    // garbage: TCP (bad type, huge length, truncated, slow)
    await tcpSend('127.0.79.1', pa, Uint8Array.from([99, 1, 2]), 'keep');
    await tcpSend('127.0.79.1', pa, Uint8Array.from([10, 0xff, 0xff, 0xff, 0xff]), 'keep');
    await tcpSend('127.0.79.1', pa, Uint8Array.from([6, 0x83]), 'end');
    await tcpSend('127.0.79.1', pa, Uint8Array.from([6]), 'keep'); // times out after 500 ms
    const errReply = await tcpSend('127.0.79.1', pa, Uint8Array.from([6, 0x80]), 'keep'); // valid framing, bad content
    assert.ok(errReply.length === 0 || errReply[0] === 13 || errReply[0] === 9, `reply ${errReply[0]}`);
    // Datagrams are read as the event loop gets to them (later under Deno than under Node): wait, bounded.
    for (let i = 0; i < 40 && a.counters.packetsIn < 150; i++) await sleep(50);
    assert.ok(a.counters.packetsIn >= 150, `packets in: ${a.counters.packetsIn}`);
    const drops = Object.values(a.counters.drops).reduce((x, y) => x + y, 0);
    assert.ok(drops > 0, JSON.stringify(a.counters.drops));
    // still healthy: b joins a and both converge
    assert.is(await b.join([`127.0.79.1:${pa}`]), 1);
    for (let i = 0; i < 50 && !(a.numAlive() === 2 && b.numAlive() === 2); i++) await sleep(50);
    assert.is(a.numAlive(), 2);
    assert.is(b.members().find((m) => m.name === 'a')?.state, 'alive');
    // abrupt shutdown of b → a suspects, then declares dead (N=2 → 4 × 200 ms)
    await b.shutdown();
    for (let i = 0; i < 60 && a.members().find((m) => m.name === 'b')?.state !== 'dead'; i++) await sleep(50);
    assert.is(a.members().find((m) => m.name === 'b')?.state, 'dead');
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

test('real transport over IPv6: two nodes on [::1] join by "[::1]:port" and know each other by the RFC 5952 address', async () => {
  const hasV6 = await new Promise<boolean>((r) => {
    const u = dgram.createSocket('udp6');
    u.once('error', () => r(false));
    u.bind({ address: '::1', port: 0 }, () => u.close(() => r(true)));
  });
  if (!hasV6) {
    console.log('  skipped: no IPv6 loopback here');
    return;
  }
  const mk = (name: string) =>
    createMembership({
      name,
      bindAddr: '::1',
      bindPort: 0,
      meta: { role: 't' },
      transport: createNodeTransport({ bindAddr: '::1', bindPort: 0, streamTimeout: 500 }),
      config: { probeInterval: 200, probeTimeout: 100, gossipInterval: 50 },
    });
  const a = mk('a6');
  const b = mk('b6');
  try {
    await a.start();
    await b.start();
    const pa = a.localNode().port;
    assert.is(await b.join([`[0:0:0:0:0:0:0:1]:${pa}`]), 1, 'joined through a bracketed, uncompressed seed');
    for (let i = 0; i < 50 && !(a.numAlive() === 2 && b.numAlive() === 2); i++) await sleep(50);
    assert.is(a.numAlive(), 2);
    const seen = b.members().find((m) => m.name === 'a6');
    assert.is(seen?.addr, '::1', 'the member address as the socket reports it (16 bytes on the wire)');
    assert.is(seen?.port, pa);
    assert.is(a.members().find((m) => m.name === 'b6')?.state, 'alive');
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

test.run();
