import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { acceptChannel, ChannelError, connectChannel, MAX_FRAME, type Conn } from './channel.ts';
import { formatToken, keyDigest, newSecret, parseToken } from './token.ts';
import { base32, sodium } from './util.ts';

async function pair(identity = sodium.crypto_sign_keypair(), pin?: Uint8Array) {
  const accepted: Promise<Conn>[] = [];
  const server = net.createServer((s) => {
    accepted.push(acceptChannel(s, { publicKey: identity.publicKey, secretKey: identity.privateKey }).then((r) => r.conn));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const want = keyDigest(pin ?? identity.publicKey);
  let client: Awaited<ReturnType<typeof connectChannel>>;
  try {
    client = await connectChannel({ host: '127.0.0.1', port, mode: 'token', checkKey: (pk) => (keyDigest(pk) === want ? undefined : 'key mismatch') });
  } catch (e) {
    for (const a of accepted) void a.then((c) => c.destroy(), () => undefined);
    server.close();
    throw e;
  }
  const conn = await accepted[0]!;
  return { server, client: client.conn, conn, port };
}

test('tokens: format, parse, and errors that explain the expected shape without echoing the secret', () => {
  const pk = sodium.crypto_sign_keypair().publicKey;
  const secret = newSecret();
  const tok = formatToken(pk, secret);
  assert.match(tok, /^WFTTKN-1-[a-z2-7]{52}-[a-z2-7]{26}$/);
  assert.equal(parseToken(tok), { digest: keyDigest(pk), secret });
  for (const bad of ['', 'WFTTKN-1-abc', `WFTTKN-2-${keyDigest(pk)}-${secret}`, `SWMTKN-1-${keyDigest(pk)}-${secret}`, `WFTTKN-1-${keyDigest(pk)}-SECRET${secret.slice(6)}`]) {
    try {
      parseToken(bad);
      assert.unreachable(bad);
    } catch (e) {
      const msg = (e as Error).message;
      assert.match(msg, 'Token is malformed');
      assert.match(msg, 'expected WFTTKN-1-');
    }
  }
  assert.is(base32(Uint8Array.of(0xff)), '74');
  assert.is(base32(new TextEncoder().encode('foobar')), 'mzxw6ytboi');
});

test('the handshake gives both ends the same transcript; frames round-trip', async () => {
  const p = await pair();
  try {
    assert.equal(p.client.transcript, p.conn.transcript);
    p.client.send({ hello: 'manager' });
    assert.equal(await p.conn.receive(1000), { hello: 'manager' });
    p.conn.send({ big: 'x'.repeat(100_000) });
    assert.is(((await p.client.receive(1000)) as { big: string }).big.length, 100_000);
    assert.throws(() => p.client.send({ huge: 'x'.repeat(MAX_FRAME) }), /frame limit/);
  } finally {
    p.client.destroy();
    p.conn.destroy();
    p.server.close();
  }
});

test('a manager whose key is not the pinned one is refused before anything is sent', async () => {
  try {
    await pair(sodium.crypto_sign_keypair(), sodium.crypto_sign_keypair().publicKey);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ChannelError);
    assert.is((e as Error).message, 'key mismatch');
  }
});

test('an oversized or forged frame closes the connection with a reason', async () => {
  const p = await pair();
  try {
    const sock = (p.client as unknown as { sock: net.Socket }).sock;
    sock.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    await p.conn.receive(1000).then(() => assert.unreachable(), (e) => assert.match((e as Error).message, /frame length .* is outside/));
  } finally {
    p.client.destroy();
    p.conn.destroy();
    p.server.close();
  }
  const q = await pair();
  try {
    const sock = (q.client as unknown as { sock: net.Socket }).sock;
    sock.write(Uint8Array.of(0, 0, 0, 20, ...new Uint8Array(20)));
    await q.conn.receive(1000).then(() => assert.unreachable(), (e) => assert.match((e as Error).message, /failed authentication/));
  } finally {
    q.client.destroy();
    q.conn.destroy();
    q.server.close();
  }
});

test.run();
