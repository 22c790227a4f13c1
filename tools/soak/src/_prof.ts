// temporary profiling script (not committed)
import { createCluster, eventually, AGENT_BIN } from '@weft/testing/cluster';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
const N = Number(process.argv[2] ?? 2000);
const store = process.argv[3] ?? 'embedded';
const c = await createCluster(1, { tag: 'haprof', subnet: 90 });
const h = c.hosts[0]!;
let bare = '';
try {
  const log = fs.openSync(h.logFile, 'a');
  const p = spawn('nsenter', [`--net=/run/netns/${h.ns}`, process.execPath, ...(process.env.STRACE ? [] : ['--cpu-prof', '--cpu-prof-dir=/tmp/haprof']), AGENT_BIN, '--socket', h.socket, '--state-dir', h.stateDir, '--node-name', h.name, '--advertise-addr', h.addr, '--docker-plugin', 'off'], { stdio: ['ignore', log, log], detached: true });
  h.agent = p;
  try { await eventually(async () => (await h.client.version()).Version !== '', 90_000, 'agent'); } catch (e) { console.log(fs.readFileSync(h.logFile, 'utf8').slice(-3000)); throw e; }
  await h.client.swarmInit({});
  await h.client.networkCreate({ Name: 'scale', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.128.0.0/14' }] } });
  const st = process.env.STRACE ? spawn('strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync,rename,openat,msync', '-p', String(p.pid)], { stdio: ['ignore', 'inherit', 'inherit'] }) : undefined;
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  let next = 0, last = t0;
  const first = await h.client.sandboxCreate({ Name: `haprof-first`, Bare: true, Networks: [{ Name: 'scale' }] });
  bare = first.NetnsPath.split('/').pop()!;
  await Promise.all(Array.from({ length: Number(process.env.CONC ?? 4) }, async () => {
    for (let i = next++; i < N; i = next++) {
      await h.client.sandboxCreate({ Name: `haprof-e${i}`, Bare: true, Networks: [{ Name: 'scale' }] });
      if ((i + 1) % 500 === 0) { const now = Date.now(); console.log(i + 1, (500 / ((now - last) / 1000)).toFixed(1), '/s'); last = now; }
    }
  }));
  if (st) { st.kill('SIGINT'); await new Promise((r) => st.once('exit', r)); }
  console.log('total', (N / ((Date.now() - t0) / 1000)).toFixed(1), '/s', store);
  await c.stopAgent(h, 'SIGTERM');
} finally {
  await c.destroy();
  if (bare !== '') spawnSync('ip', ['netns', 'del', bare]);
}
