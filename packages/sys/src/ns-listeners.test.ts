import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { createNsListeners, evalCommand, rootSkipReason, withLab } from './mod.ts';

const skip = rootSkipReason();
const rootTest = (name: string, fn: () => Promise<void>) => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

/** From inside `ns`: one UDP datagram and one framed TCP message to addr:port; the answers as text ('' when none). */
const CLIENT = `
const dgram = require('node:dgram'); const net = require('node:net');
const [addr, port, text] = process.argv.slice(1);
const out = { udp: '', tcp: '' };
const u = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
const t1 = setTimeout(() => { try { u.close(); } catch {} ; tcp(); }, 2000);
u.on('message', (m) => { out.udp = String(m); clearTimeout(t1); u.close(); tcp(); });
u.send(Buffer.from('u:' + text), Number(port), addr);
function tcp() {
  const c = net.connect({ host: addr, port: Number(port) });
  const q = Buffer.from('t:' + text); const h = Buffer.alloc(2); h.writeUInt16BE(q.length);
  let buf = Buffer.alloc(0);
  const t2 = setTimeout(() => { c.destroy(); done(); }, 2000);
  c.on('connect', () => { c.write(h); setTimeout(() => c.write(q), 50); });
  c.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { out.tcp = String(buf.subarray(2, 2 + buf.readUInt16BE(0))); clearTimeout(t2); c.destroy(); done(); } });
  c.on('error', () => { clearTimeout(t2); done(); });
}
function done() { process.stdout.write(JSON.stringify(out)); }
`;

rootTest('listeners inside two namespaces from one thread: UDP and framed TCP, v4 and v6, replies on the right socket; bad addresses refused; the main thread stays home', () =>
  withLab('nsl', async (lab) => {
    const a = lab.netns('a');
    const b = lab.netns('b');
    execFileSync('ip', ['-n', a, 'addr', 'add', '198.18.231.1/24', 'dev', 'lo']);
    execFileSync('ip', ['-n', b, 'addr', 'add', '198.18.231.1/24', 'dev', 'lo']);
    execFileSync('ip', ['-n', b, 'addr', 'add', 'fd00:231::1/64', 'dev', 'lo', 'nodad']);
    const home = execFileSync('readlink', ['/proc/thread-self/ns/net'], { encoding: 'utf8' });
    const seen: string[] = [];
    const l = createNsListeners();
    try {
      // The same address and port in two namespaces: each answer names its namespace.
      await l.listen('a', { ns: a, addrs: ['198.18.231.1'], port: 5053, tcp: true }, (m, reply) => {
        seen.push(`a ${m.transport} ${m.from}`);
        reply(Buffer.from(`A/${m.transport}/${String(Buffer.from(m.bytes))}`));
      });
      await l.listen('b', { ns: b, addrs: ['198.18.231.1', 'fd00:231::1'], port: 5053, tcp: true }, (m, reply) => reply(Buffer.from(`B/${m.transport}/${String(Buffer.from(m.bytes))}`)));
      // Asynchronously: the handlers run on this thread while the client waits for them.
      const ask = (ns: string, addr: string, text: string) =>
        new Promise<{ udp: string; tcp: string }>((resolve, reject) =>
          execFile('ip', ['netns', 'exec', ns, ...evalCommand(CLIENT, [addr, '5053', text])], { encoding: 'utf8', timeout: 20_000 }, (e, out, err) => (e !== null ? reject(new Error(`${e.message}: ${err}`)) : resolve(JSON.parse(out) as { udp: string; tcp: string }))));
      assert.equal(await ask(a, '198.18.231.1', 'x'), { udp: 'A/udp/u:x', tcp: 'A/tcp/t:x' });
      assert.equal(await ask(b, '198.18.231.1', 'y'), { udp: 'B/udp/u:y', tcp: 'B/tcp/t:y' });
      assert.equal(await ask(b, 'fd00:231::1', 'z'), { udp: 'B/udp/u:z', tcp: 'B/tcp/t:z' });
      assert.ok(seen.every((s) => s.endsWith(' 198.18.231.1')), `senders seen as themselves: ${seen.join('; ')}`);
      // Nothing listens in this process's own namespace, which it never left.
      assert.not.match(execFileSync('ss', ['-lntu'], { encoding: 'utf8' }), /198\.18\.231\.1:5053/);
      assert.is(execFileSync('readlink', ['/proc/thread-self/ns/net'], { encoding: 'utf8' }), home);
      // An address the namespace lacks: refused with the reason, nothing left half open, and the
      // thread came home (the next listen lands where it should).
      const err = await l.listen('bad', { ns: a, addrs: ['198.18.231.1', '198.18.232.9'], port: 5054, tcp: true }, () => {}).then(() => undefined, (e: Error & { code?: string }) => e);
      assert.ok(err !== undefined, 'listening on an absent address fails');
      assert.is(err!.code, 'EADDRNOTAVAIL', String(err));
      assert.not.match(lab.exec(a, 'ss', ['-lntu']), /:5054/);
      await l.listen('a2', { ns: a, addrs: ['198.18.231.1'], port: 5055, tcp: false }, (_m, reply) => reply(Buffer.from('A2')));
      assert.match(lab.exec(a, 'ss', ['-lnu']), /198\.18\.231\.1:5055/);
      const missing = await l.listen('gone', { ns: `${lab.prefix}nope`, addrs: ['127.0.0.1'], port: 5056, tcp: false }, () => {}).then(() => undefined, (e: Error) => e);
      assert.match(String(missing), /nope/);
      assert.is((missing as Error & { code?: string }).code, 'ENOENT');
      // Closing a key closes its sockets.
      l.close('a');
      await new Promise((r) => setTimeout(r, 200));
      assert.not.match(lab.exec(a, 'ss', ['-lntu']), /:5053/);
      assert.match(lab.exec(b, 'ss', ['-lntu']), /:5053/);
    } finally {
      await l.stop();
    }
  }));

test.run();
