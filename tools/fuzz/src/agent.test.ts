/**
 * Hostile input against live agents (root only): two hosts on 198.18.50.0/24 and an attacker
 * namespace on the same underlay send garbage to 4789/udp, 7946/udp+tcp and 2377/tcp, and
 * garbage or oversized HTTP goes to the local API socket. The agents must stay up and keep
 * serving: the API answers, both nodes stay ready, a sandbox ping across the overlay works.
 * Forged VXLAN and envelope-shaped datagrams with an encrypted network's VNI must not reach
 * its sandbox (while the same forgery does reach a plaintext network's sandbox: the control).
 *
 * WEFT_FUZZ_GARBAGE=N scales the amount (default 1: ~2 000 datagrams per port, 60 connections).
 * The requests of former finding K2 (see lib.ts), which used to end the agent, are always sent
 * and must now answer 4xx.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as http from 'node:http';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCluster, eventually, type Cluster, type Host } from '@weft/testing/cluster';
import { tsFileCommand } from '@weft/testing';

const root = process.getuid?.() === 0;
const tag = `fz${process.pid % 1000}`;
const sb = (n: string) => `${tag}-${n}`;
const SCALE = Number(process.env.WEFT_FUZZ_GARBAGE ?? 1);
const SUBNET = 50;
const ATTACKER_IP = `198.18.${SUBNET}.200`;
const here = path.dirname(fileURLToPath(import.meta.url));

const ipOf = async (h: Host, name: string, netName: string) => (await h.client.sandbox(name)).Networks[netName]!;
const pings = (c: Cluster, from: string, ip: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', ip]).code === 0;
const alive = (h: Host) => h.agent !== undefined && h.agent.exitCode === null && h.agent.signalCode === null;
const rxPackets = (ns: string): number => {
  const j = JSON.parse(execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' })) as { stats64?: { rx?: { packets?: number } } }[];
  return j[0]?.stats64?.rx?.packets ?? -1;
};

/** Counts UDP/9 packets (the forged ones) arriving on a sandbox's eth0 while `fn` runs. */
const hasTcpdump = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].some((f) => fs.existsSync(f));
async function captured(ns: string, fn: () => void): Promise<number> {
  if (!hasTcpdump) {
    // Without tcpdump: the eth0 RX counter, less 2 for background ARP/ND.
    const before = rxPackets(ns);
    fn();
    await new Promise((r) => setTimeout(r, 700));
    return Math.max(0, rxPackets(ns) - before - 2);
  }
  const p = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-n', '-l', '-i', 'eth0', 'udp', 'port', '9'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let ready = false;
  p.stdout.on('data', (d: Buffer) => (lines += d.toString().split('\n').filter((l) => l.includes('.9:')).length));
  p.stderr.on('data', (d: Buffer) => (ready ||= d.toString().includes('listening')));
  await eventually(() => ready, 5000, `tcpdump in ${ns}`);
  fn();
  await new Promise((r) => setTimeout(r, 700));
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  await done;
  return lines;
}

/** An attacker namespace with a veth into the cluster's underlay bridge. */
function attacker(c: Cluster): { ns: string; run(args: string[]): unknown; destroy(): void } {
  const ns = `${c.prefix}atk`;
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ip(['netns', 'add', ns]);
  ip(['link', 'add', `${tag}a0`, 'netns', ns, 'type', 'veth', 'peer', 'name', `${tag}a1`, 'netns', c.underlay]);
  ip(['-n', c.underlay, 'link', 'set', `${tag}a1`, 'master', 'br0', 'up']);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  ip(['-n', ns, 'link', 'set', `${tag}a0`, 'up']);
  ip(['-n', ns, 'addr', 'add', `${ATTACKER_IP}/24`, 'dev', `${tag}a0`]);
  return {
    ns,
    run(args) {
      const out = execFileSync('nsenter', [`--net=/run/netns/${ns}`, ...tsFileCommand(path.join(here, 'garbage.ts'), args)], {
        encoding: 'utf8',
        cwd: here,
        timeout: 300_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return JSON.parse(out.trim().split('\n').pop()!) as unknown;
    },
    destroy() {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        /* gone */
      }
    },
  };
}

/** Raw bytes to the API socket; resolves with what came back (or '' on reset). */
function rawApi(socket: string, bytes: Buffer | string, waitMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    let got = '';
    const done = () => {
      s.destroy();
      resolve(got);
    };
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => s.write(bytes, () => setTimeout(done, waitMs)));
  });
}

const HTTP_GARBAGE: readonly (Buffer | string)[] = [
  Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
  'GARBAGE\r\n\r\n',
  'GET /_ping HTTP/9.9\r\n\r\n',
  `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
  'POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Name":',
  'POST /networks/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n',
  'POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{}',
  `POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"__proto__":1}`,
];
const K2_REQUESTS = ['GET // HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /networks/%E0 HTTP/1.1\r\nHost: x\r\n\r\n'];

/** An HTTP request through node:http on the unix socket, with a body. */
function httpApi(socket: string, method: string, p: string, body: string | Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, method, path: p, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

if (!root) {
  test('live-agent garbage (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root'));
} else {
  test('garbage on 4789/7946/2377 and the API never kills the agent; forged data-path packets never reach an encrypted network; the API socket is 0660 root', async () => {
    const c = await createCluster(2, { tag, subnet: SUBNET });
    let atk: ReturnType<typeof attacker> | undefined;
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      const [m, w] = c.hosts as [Host, Host];
      const init = await m.client.swarmInit({});
      await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m.addr}:2377`] });
      await eventually(async () => (await m.client.nodes()).filter((n) => n.Status === 'ready' && n.Weft).length === 2, 20_000, 'both nodes ready');

      // The socket: mode 0660, owner root:root.
      const st = fs.statSync(m.socket);
      assert.ok(st.isSocket(), 'the API path is a unix socket');
      assert.is(st.mode & 0o777, 0o660, `socket mode ${(st.mode & 0o777).toString(8)}`);
      assert.is(st.uid, 0, 'owned by root');
      assert.is(st.gid, 0, 'group root');

      // On the switch, as the encrypted one: the control forgery proves the switch accepts it (the kernel path's vxlan device is the kernel's).
      await m.client.networkCreate({ Name: 'plain', Driver: 'overlay', Attachable: true, Options: { 'weft.dataplane': 'userspace' } });
      await m.client.networkCreate({ Name: 'sealed', Driver: 'overlay', Attachable: true, Options: { encrypted: '' } });
      await m.client.sandboxCreate({ Name: sb('m'), Networks: [{ Name: 'plain' }] });
      await w.client.sandboxCreate({ Name: sb('w'), Networks: [{ Name: 'plain' }] });
      await m.client.sandboxCreate({ Name: sb('ms'), Networks: [{ Name: 'sealed' }] });
      await w.client.sandboxCreate({ Name: sb('ws'), Networks: [{ Name: 'sealed' }] });
      const wPlain = await ipOf(w, sb('w'), 'plain');
      const wSealed = await ipOf(w, sb('ws'), 'sealed');
      await eventually(() => pings(c, sb('m'), wPlain.IPAddress.split('/')[0]!), 15_000, 'plain ping before the garbage');
      await eventually(() => pings(c, sb('ms'), wSealed.IPAddress.split('/')[0]!), 15_000, 'sealed ping before the garbage');

      atk = attacker(c);
      const n = Math.round(2000 * SCALE);
      const conns = Math.round(60 * SCALE);
      const sent: Record<string, unknown> = {};
      for (const h of [m, w]) {
        sent[`${h.name} udp/4789`] = atk.run(['udp', h.addr, '4789', String(n)]);
        // The userspace switch (encrypted networks) listens on the next port.
        sent[`${h.name} udp/4790`] = atk.run(['udp', h.addr, '4790', String(n)]);
        sent[`${h.name} udp/7946`] = atk.run(['udp', h.addr, '7946', String(n)]);
        sent[`${h.name} tcp/7946`] = atk.run(['tcp', h.addr, '7946', String(conns)]);
      }
      sent[`${m.name} tcp/2377`] = atk.run(['tcp', m.addr, '2377', String(conns)]);

      // The API: raw garbage, oversized bodies, deep JSON, wrong types.
      const answers: string[] = [];
      for (const g of HTTP_GARBAGE) answers.push((await rawApi(m.socket, g)).split('\r\n')[0] ?? '');
      const statuses: number[] = [];
      statuses.push(await httpApi(m.socket, 'POST', '/networks/create', Buffer.alloc(2 << 20, 0x20)));
      statuses.push(await httpApi(m.socket, 'POST', '/networks/create', '['.repeat(200_000) + ']'.repeat(200_000)));
      statuses.push(await httpApi(m.socket, 'POST', '/sandboxes/create', JSON.stringify({ Name: 7, Networks: 'x' })));
      statuses.push(await httpApi(m.socket, 'POST', '/networks/create', '{"__proto__":{"Driver":"host"},"Name":"pp"}'));
      statuses.push(await httpApi(m.socket, 'DELETE', '/networks/..%2f..', ''));
      // Former finding K2 (ended the agent): now a 400.
      for (const k of K2_REQUESTS) {
        const line = (await rawApi(m.socket, k)).split('\r\n')[0] ?? '';
        answers.push(line);
        assert.match(line, / 4\d\d /, `${JSON.stringify(k.split('\r\n')[0])} → ${line}`);
      }
      console.log(`  sent ${JSON.stringify(sent)}`);
      console.log(`  API answers to garbage: ${JSON.stringify(answers)}; statuses ${JSON.stringify(statuses)}`);
      assert.ok(statuses[0] === 413 || statuses[0] === 0, `2 MiB body → ${statuses[0]}`);
      // [1] deep JSON, [2] wrong types, [4] dot-dot path: refused. [3] a valid create with a
      // `__proto__` key may succeed, but the key must not have set the driver.
      assert.ok([1, 2, 4].every((i) => statuses[i]! >= 400 && statuses[i]! < 600), `statuses ${statuses}`);
      if (statuses[3] === 200) assert.is.not((await m.client.network('pp')).Driver, 'host', '__proto__ set the driver');
      else assert.ok(statuses[3]! >= 400 && statuses[3]! < 600, `__proto__ body → ${statuses[3]}`);

      // Still up and serving.
      await new Promise((r) => setTimeout(r, 1000));
      for (const h of [m, w]) {
        assert.ok(alive(h), `the agent on ${h.name} exited (see ${h.logFile})`);
        assert.is((await h.client.version()).Version !== '', true);
      }
      await eventually(async () => (await m.client.nodes()).filter((x) => x.Status === 'ready').length === 2, 20_000, 'both nodes still ready');
      await eventually(() => pings(c, sb('m'), wPlain.IPAddress.split('/')[0]!), 15_000, 'plain ping after the garbage');
      await eventually(() => pings(c, sb('ms'), wSealed.IPAddress.split('/')[0]!), 15_000, 'sealed ping after the garbage');

      // Forged data-path packets. Control: plaintext VXLAN with the plain network's VNI reaches
      // its sandbox; the same forgery with the encrypted network's VNI, and envelope-shaped
      // datagrams, do not.
      const vni = async (name: string) => (await m.client.networks()).find((x) => x.Name === name)!.VNI;
      const vniPlain = await vni('plain');
      const vniSealed = await vni('sealed');
      const forged = Math.round(200 * SCALE);
      const before = rxPackets(sb('w'));
      const controlSeen = await captured(sb('w'), () => atk!.run(['vxlan', w.addr, String(vniPlain), wPlain.MacAddress, wPlain.IPAddress.split('/')[0]!, String(forged), '4790']));
      const controlRx = rxPackets(sb('w')) - before;
      assert.ok(controlSeen >= forged * 0.9, `control: only ${controlSeen} of ${forged} forged plaintext frames reached the plain network's sandbox (the forgery is wrong)`);

      const sealedBefore = rxPackets(sb('ws'));
      const sealedSeen = await captured(sb('ws'), () => {
        // At both paths' ports: the encrypted network lives on the userspace switch (4790).
        for (const port of ['4789', '4790']) {
          atk!.run(['vxlan', w.addr, String(vniSealed), wSealed.MacAddress, wSealed.IPAddress.split('/')[0]!, String(forged), port]);
          atk!.run(['sealed', w.addr, String(forged), port]);
        }
      });
      const sealedRx = rxPackets(sb('ws')) - sealedBefore;
      console.log(`  forged: ${controlSeen}/${forged} reached the plain sandbox (control, eth0 RX +${controlRx}); ${sealedSeen} reached the encrypted sandbox after ${forged} plaintext VXLAN + ${forged} envelope-shaped datagrams (eth0 RX +${sealedRx}, any traffic)`);
      assert.is(sealedSeen, 0, `${sealedSeen} forged packets reached the encrypted network's sandbox`);
      assert.ok(pings(c, sb('ms'), wSealed.IPAddress.split('/')[0]!), 'the encrypted network still carries traffic');
      for (const h of [m, w]) assert.ok(alive(h), `the agent on ${h.name} exited`);
    } finally {
      atk?.destroy();
      await c.destroy();
    }
  });
}

test.run();
