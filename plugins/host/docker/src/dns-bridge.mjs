// Runs inside a container's network namespace (started by the `weft` Docker plugin with
// `nsenter --net=<SandboxKey>`): answers DNS on <addr>:53 there by asking the agent's Weft resolver
// over a unix socket, one query per connection (a line of JSON out, a line of base64 back).
// Docker's embedded DNS forwards the names it does not know here when the container runs with
// `--dns <addr>` ("--dns 127.0.0.x refers to the loopback in the container namespace").
// Exits when the namespace's bind mount (the SandboxKey) disappears, i.e. the container is gone.
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';

const [addr, socketPath, network, sandboxKey] = process.argv.slice(2);
const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const c = net.createConnection(socketPath);
  let buf = '';
  c.setEncoding('utf8');
  c.setTimeout(5000, () => c.destroy());
  c.on('data', (d) => (buf += d));
  c.on('end', () => {
    const a = buf.trim();
    if (a !== '') sock.send(Buffer.from(a, 'base64'), rinfo.port, rinfo.address);
  });
  c.on('error', () => {});
  c.end(`${JSON.stringify({ n: network, q: msg.toString('base64') })}\n`);
});
let tries = 0;
const bind = () => sock.bind(53, addr);
// lo may not be up yet when Docker has just created the namespace.
sock.on('error', (e) => {
  if (e.code === 'EADDRNOTAVAIL' && tries++ < 100) setTimeout(bind, 100);
  else process.exit(1);
});
bind();
setInterval(() => {
  if (!fs.existsSync(sandboxKey)) process.exit(0);
}, 2000).unref();
process.on('SIGTERM', () => process.exit(0));
