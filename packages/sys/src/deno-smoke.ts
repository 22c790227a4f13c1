/**
 * Manual check of the Deno adapter (the workspace has no Deno test target for host-I/O packages):
 *
 *   npx deno run --allow-ffi --allow-read --allow-env --allow-run packages/sys/src/deno-smoke.ts
 *
 * Also runs under Node (`node --import tsx ...`) and prints the same lines.
 */
import { MSG_DONTWAIT, O_RDONLY, cstr, loadSys, parseIPv4, udpSocket, writeSockaddrIn } from './mod.ts';

const sys = await loadSys();
const missing = sys.open(cstr(sys, '/nonexistent/weft'), O_RDONLY);
console.log(`runtime=${sys.runtime} open(missing)=${missing} errno=${sys.errno()}`);
const port = 40000 + (Date.now() % 20000);
const fd = udpSocket(sys, { addr: '127.0.0.1', port, nonblock: true });
const m = sys.alloc(4096);
writeSockaddrIn(m.bytes, 0, parseIPv4('127.0.0.1'), port);
m.bytes.set([9, 8, 7], 64);
const sent = sys.sendto(fd, m.addr + 64, 3, 0, m.addr, 16);
const got = sys.recvfrom(fd, m.addr + 1024, 100, MSG_DONTWAIT, 0, 0);
console.log(`udp loopback sent=${sent} received=${got} bytes=${[...m.bytes.subarray(1024, 1027)].join(',')}`);
sys.close(fd);
if (missing !== -1 || sys.runtime === undefined || got !== 3) throw new Error('Deno adapter smoke check failed');
