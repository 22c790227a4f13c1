/**
 * Published-port plumbing without namespaces: the forwarder runs as a child process here (in a
 * sandbox it runs inside the namespace), targets 127.0.0.1. UDP sessions per client, replies from
 * the published port, idle timeout; TCP splice; the frame codec across chunk boundaries.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { evalCommand } from '@weft/sys';
import { forwarderSpec, frameDatagram, frameReader, listenHosts, noIPv6, PORT_FORWARDER, portFree, portSocket, relayUdpToUnix, spliceToUnix, writeTargets } from './ports.ts';

/** Listener errors (a failed bind): reported through callbacks, so every wait checks them and fails the test. */
const listenErrors: Error[] = [];
const onListenError = (e: Error) => void listenErrors.push(e);
const failOnListenErrors = () => {
  if (listenErrors.length > 0) throw new Error(`a published-port listener failed: ${listenErrors.map((e) => e.message).join('; ')}`);
};

const until = async (pred: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!pred()) {
    failOnListenErrors();
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('frames: split and joined chunks give back the datagrams, empty ones included', () => {
  const all = Buffer.concat([frameDatagram(Buffer.from('hello')), frameDatagram(Buffer.alloc(0)), frameDatagram(Buffer.from('x'.repeat(300)))]);
  for (const cut of [1, 2, 3, 8, 9, 200]) {
    const got: string[] = [];
    const read = frameReader((p) => got.push(p.toString()));
    read(all.subarray(0, cut));
    read(all.subarray(cut));
    assert.equal(got, ['hello', '', 'x'.repeat(300)], `cut at ${cut}`);
  }
  const got: string[] = [];
  const read = frameReader((p) => got.push(p.toString()));
  for (const b of all) read(Buffer.from([b]));
  assert.equal(got, ['hello', '', 'x'.repeat(300)], 'byte by byte');
});

test('UDP: one session per client through the forwarder, replies from the published port, idle sessions closed; TCP spliced', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ports-'));
  // A UDP echo that says which source port it saw, and a TCP echo.
  const echo = dgram.createSocket('udp4');
  const seen = new Set<number>();
  echo.on('message', (m, r) => {
    seen.add(r.port);
    echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address);
  });
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  const target = echo.address().port;
  const tcp = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const tport = (tcp.address() as net.AddressInfo).port;
  const targets = path.join(dir, 'targets.json');
  writeTargets(targets, ['127.0.0.1']);
  const usock = portSocket(dir, 5353, 'udp');
  const tsock = portSocket(dir, 5353, 'tcp');
  assert.is.not(usock, tsock, 'TCP and UDP of one port number have their own sockets');
  const [cmd, ...args] = evalCommand(PORT_FORWARDER, [targets, forwarderSpec(usock, target, 'udp'), forwarderSpec(tsock, tport)]);
  const fwd = spawn(cmd as string, args, { stdio: 'inherit' });
  const clients: dgram.Socket[] = [];
  try {
    await until(() => fs.existsSync(usock) && fs.existsSync(tsock));
    // Loopback and an ephemeral port only: two runs (or a busy machine) never collide.
    const relay = relayUdpToUnix('127.0.0.1', 0, usock, onListenError, 300);
    await until(() => relay.port() > 0);
    const pub = relay.port();
    const replies: { who: number; text: string; from: number }[] = [];
    for (let i = 0; i < 2; i++) {
      const c = dgram.createSocket('udp4');
      c.on('message', (m, r) => replies.push({ who: i, text: m.toString(), from: r.port }));
      await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
      clients.push(c);
    }
    clients[0]!.send('a1', pub, '127.0.0.1');
    clients[1]!.send('b1', pub, '127.0.0.1');
    clients[0]!.send('a2', pub, '127.0.0.1');
    await until(() => replies.length === 3);
    assert.equal(replies.map((r) => `${r.who}:${r.text}`).sort(), ['0:echo:a1', '0:echo:a2', '1:echo:b1']);
    assert.ok(replies.every((r) => r.from === pub), 'replies come from the published port');
    assert.is(relay.sessions(), 2, 'one session per client address');
    assert.is(seen.size, 2, 'the target sees one source per session');
    await until(() => relay.sessions() === 0, 3000);
    assert.ok(!(await portFree('127.0.0.1', pub, 'udp')), 'the published UDP port is taken');
    relay.close();
    // Closing a UDP socket is asynchronous under Deno: the port is free within moments, not at once.
    let free = false;
    for (let i = 0; i < 50 && !free; i++) {
      free = await portFree('127.0.0.1', pub, 'udp');
      if (!free) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(free, 'and free again after close');

    const splice = spliceToUnix('127.0.0.1', 0, tsock, onListenError);
    await new Promise((resolve, reject) => {
      splice.once('listening', resolve);
      splice.once('error', reject);
    });
    failOnListenErrors();
    const c = net.connect((splice.address() as net.AddressInfo).port, '127.0.0.1');
    const got = await new Promise<string>((resolve) => {
      c.on('data', (d) => resolve(d.toString()));
      c.write('tcp-ok');
    });
    assert.is(got, 'tcp-ok');
    c.destroy();
    splice.close();
    failOnListenErrors();
  } finally {
    for (const c of clients) c.close();
    fwd.kill('SIGKILL');
    echo.close();
    tcp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('IPv6: 0.0.0.0 also listens on [::], other hosts are themselves; clients over [::1] reach the forwarder (TCP, UDP), which reaches an IPv6 target too', async () => {
  assert.equal(listenHosts('0.0.0.0', 'udp'), ['0.0.0.0', '::']);
  assert.equal(listenHosts('0.0.0.0', 'tcp'), 'Deno' in globalThis ? ['0.0.0.0'] : ['0.0.0.0', '::'], 'TCP under Deno: one dual-stack socket (listenPort), as its TCP sockets ignore ipv6Only');
  assert.equal(listenHosts('::'), ['::']);
  assert.equal(listenHosts('127.0.0.1'), ['127.0.0.1']);
  assert.ok(noIPv6(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' })));
  assert.not.ok(noIPv6(Object.assign(new Error('x'), { code: 'EADDRINUSE' })), 'a taken [::] port is an error');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-ports6-'));
  // Echo servers on ::1 (a sandbox of an IPv6-only network is reached on its IPv6 address).
  const echo = dgram.createSocket('udp6');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo6:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '::1', () => r()));
  const tcp = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => tcp.listen(0, '::1', () => r()));
  const targets = path.join(dir, 'targets.json');
  writeTargets(targets, ['::1']);
  const usock = portSocket(dir, 53, 'udp');
  const tsock = portSocket(dir, 53, 'tcp');
  const [cmd, ...args] = evalCommand(PORT_FORWARDER, [targets, forwarderSpec(usock, echo.address().port, 'udp'), forwarderSpec(tsock, (tcp.address() as net.AddressInfo).port)]);
  const fwd = spawn(cmd as string, args, { stdio: 'inherit' });
  const client = dgram.createSocket('udp6');
  try {
    await until(() => fs.existsSync(usock) && fs.existsSync(tsock));
    const relay = relayUdpToUnix('::1', 0, usock, onListenError);
    await until(() => relay.port() > 0);
    const got: string[] = [];
    client.on('message', (m) => got.push(m.toString()));
    client.send('u6', relay.port(), '::1');
    await until(() => got.length === 1);
    assert.equal(got, ['echo6:u6']);
    // The same port number is free on IPv4 loopback: the IPv6 socket is v6-only.
    assert.ok(await portFree('127.0.0.1', relay.port(), 'udp'), 'an IPv6 UDP listener does not hold the IPv4 port');
    assert.not.ok(await portFree('::1', relay.port(), 'udp'), 'it holds the IPv6 one');
    relay.close();
    const splice = spliceToUnix('::1', 0, tsock, onListenError);
    await new Promise((resolve, reject) => {
      splice.once('listening', resolve);
      splice.once('error', reject);
    });
    const port = (splice.address() as net.AddressInfo).port;
    assert.ok(await portFree('127.0.0.1', port, 'tcp'), 'an IPv6 TCP listener does not hold the IPv4 port');
    const c = net.connect(port, '::1');
    const reply = await new Promise<string>((resolve) => {
      c.on('data', (d) => resolve(d.toString()));
      c.write('tcp6-ok');
    });
    assert.is(reply, 'tcp6-ok');
    c.destroy();
    splice.close();
    failOnListenErrors();
  } finally {
    client.close();
    fwd.kill('SIGKILL');
    echo.close();
    tcp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
