/**
 * Published ports of a sandbox (`weft run -p [HOST_IP:]HOST_PORT:PORT`, TCP): the agent listens
 * on HOST_IP:HOST_PORT in its own namespace and splices each connection into a unix socket served
 * by a small forwarder running inside the sandbox's namespace, which connects to the sandbox's
 * address on PORT. Unix sockets live in the file system, so they cross network namespaces without
 * a veth or NAT. The services plugin's routing mesh uses the same forwarder (`PORT_FORWARDER`).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

/**
 * Run as `node -e PORT_FORWARDER TARGETS_FILE SOCK=PORT...` inside a namespace: accepts on each
 * SOCK and connects to PORT on one of the addresses in TARGETS_FILE (a JSON array, read per
 * connection, round robin). No target: the connection is closed.
 */
export const PORT_FORWARDER = `
const net = require('net'), fs = require('fs');
const [file, ...specs] = process.argv.slice(1);
let n = 0;
for (const s of specs) {
  const i = s.lastIndexOf('='); const sock = s.slice(0, i); const port = Number(s.slice(i + 1));
  try { fs.unlinkSync(sock); } catch {}
  net.createServer((c) => {
    let ips = [];
    try { ips = JSON.parse(fs.readFileSync(file, 'utf8')); } catch {}
    if (ips.length === 0) { c.destroy(); return; }
    const u = net.connect(port, ips[n++ % ips.length]);
    c.pipe(u); u.pipe(c);
    u.on('error', () => c.destroy()); c.on('error', () => u.destroy());
  }).listen(sock);
}
setInterval(() => {}, 1 << 30);
`;

/** Listens on `host:port` and splices every connection into the unix socket `sock`. */
export function spliceToUnix(host: string, port: number, sock: string, onError: (e: Error) => void): net.Server {
  const srv = net.createServer((c) => {
    const u = net.connect(sock);
    c.pipe(u);
    u.pipe(c);
    u.on('error', () => c.destroy());
    c.on('error', () => u.destroy());
  });
  srv.on('error', onError);
  srv.listen(port, host);
  return srv;
}

/** Binds `host:port` once to see that it is free (a clear error before the sandbox is made). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export function writeTargets(file: string, ips: readonly string[]): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(ips));
  fs.renameSync(`${file}.tmp`, file);
}
