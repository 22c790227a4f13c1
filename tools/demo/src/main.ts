/**
 * `npm run demo`: Weft's multi-host walkthrough on one machine. Builds three hosts from network
 * namespaces, starts an agent on each, forms a swarm, creates an attachable overlay, runs a sandbox
 * on two hosts and pings across, then removes everything it made. Each step is narrated and
 * checked; the first failure stops the demo with a non-zero exit.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCluster, cliCommand, type Cluster, type Host } from '@weft/testing/cluster';

/** Runs `weft -H <host's socket> ARGS`, echoing the command line and its output. */
function weft(h: Host, args: readonly string[], opts: { expectFail?: boolean } = {}): string {
  process.stdout.write(`   ${dim(`[${h.name}]`)} $ weft ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  try {
    const [cmd, ...pre] = cliCommand();
    const out = execFileSync(cmd as string, [...pre, '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (opts.expectFail) throw new Error(`"weft ${args.join(' ')}" succeeded but should have failed`);
    if (out.trim() !== '') say(out.trimEnd());
    return out;
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string; message: string };
    if (err.status === undefined) throw e;
    const msg = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
    if (opts.expectFail) {
      say(msg);
      return msg;
    }
    throw new Error(`"weft ${args.join(' ')}" failed (exit ${err.status}): ${msg}`);
  }
}

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let stepNo = 0;
const t0 = Date.now();

async function step<T>(title: string, fn: () => Promise<T>): Promise<T> {
  stepNo++;
  process.stdout.write(`\n${bold(`${stepNo}. ${title}`)}\n`);
  const s = Date.now();
  const r = await fn();
  process.stdout.write(dim(`   ok (${Date.now() - s} ms)\n`));
  return r;
}
const say = (s: string) => process.stdout.write(`   ${s.split('\n').join('\n   ')}\n`);
function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

/** Host tools the demo runs, and the Debian packages that provide them. */
const TOOLS: Readonly<Record<string, string>> = { ip: 'iproute2', nsenter: 'util-linux', ping: 'iputils-ping', tcpdump: 'tcpdump', getent: 'libc-bin' };

/** Installs missing host tools with apt-get (a fresh Debian machine lacks ping and tcpdump). */
function ensureTools(): boolean {
  const has = (cmd: string) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const missing = [...new Set(Object.entries(TOOLS).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return true;
  process.stdout.write(`installing the host tools the demo uses: ${missing.join(' ')} (apt-get)\n`);
  try {
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing.join(' ')}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    return true;
  } catch {
    process.stderr.write(`weft demo: could not install ${missing.join(' ')}; install them (apt-get install ${missing.join(' ')}) and run it again\n`);
    return false;
  }
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('weft demo: needs root (it creates network namespaces, TAP devices and processes); run it as root: sudo npm run demo\n');
    return 1;
  }
  if (!ensureTools()) return 1;
  let c: Cluster | undefined;
  try {
    c = await step('Build three hosts from network namespaces, on an underlay in 198.18.0.0/24', async () => {
      const cl = await createCluster(3, { tag: 'demo' });
      for (const h of cl.hosts) say(`${h.name}: namespace ${h.ns}, underlay address ${h.addr}`);
      return cl;
    });
    const cluster = c;
    const [h1, h2, h3] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0], typeof cluster.hosts[0]];

    await step('Start weft-agent on every host', async () => {
      const bin = process.env.WEFT_AGENT_BIN;
      say(bin !== undefined && bin !== '' ? `weft-agent: the single-file binary ${bin}; weft: ${process.env.WEFT_CLI_BIN ?? '(sources)'}` : `weft-agent and weft: the TypeScript sources on ${'Deno' in globalThis ? 'Deno' : 'Node'}`);
      await Promise.all(cluster.hosts.map((h) => cluster.startAgent(h)));
      for (const h of cluster.hosts) say(`${h.name}: agent pid ${h.agent?.pid}, API unix://${h.socket}`);
    });

    const token = await step('Make h1 the manager', async () => {
      weft(h1, ['swarm', 'init', '--advertise-addr', h1.addr]);
      return weft(h1, ['swarm', 'join-token', '-q', 'worker']).trim();
    });

    await step('A join with a wrong secret is refused, with the reason', async () => {
      const bad = `${token.slice(0, token.lastIndexOf('-'))}-aaaaaaaaaaaaaaaaaaaaaaaaaa`;
      weft(h3, ['swarm', 'join', '--token', bad, `${h1.addr}:2377`], { expectFail: true });
    });

    await step('Join h2 and h3 as workers', async () => {
      for (const h of [h2, h3]) weft(h, ['swarm', 'join', '--token', token, `${h1.addr}:2377`]);
    });

    await step('Every node is ready', async () => {
      for (let i = 0; i < 50; i++) {
        const nodes = await h1.client.nodes();
        if (nodes.length === 3 && nodes.every((n) => n.Status === 'ready' && n.Tags.weft === '1')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const out = weft(h1, ['node', 'ls']);
      check(out.split('\n').filter((l) => /\bready\b/i.test(l)).length === 3, 'not every node is ready');
    });

    await step('Create an encrypted, attachable overlay network on the manager', async () => {
      weft(h1, ['network', 'create', '-d', 'overlay', '--attachable', '--opt', 'encrypted', 'web']);
    });

    await step('Run alpine1 on h1 and alpine2 on h2, attached to web', async () => {
      weft(h1, ['run', '-d', '--name', 'alpine1', '--network', 'web', '--', 'sleep', '3600']);
      weft(h2, ['run', '-d', '--name', 'alpine2', '--network', 'web', '--', 'sleep', '3600']);
      weft(h2, ['ps']);
    });

    await step('From alpine1 on h1, ping alpine2 on h2 by name (embedded DNS, then the overlay)', async () => {
      for (let i = 0; i < 20 && cluster.inSandbox('alpine1', ['ping', '-c', '1', '-W', '1', 'alpine2']).code !== 0; i++) await new Promise((r) => setTimeout(r, 250));
      weft(h1, ['exec', 'alpine1', '--', 'cat', '/etc/resolv.conf']);
      weft(h1, ['exec', 'alpine1', '--', 'getent', 'hosts', 'alpine2']);
      weft(h1, ['exec', 'alpine1', '--', 'ping', '-c', '3', 'alpine2']);
    });

    await step('Prove the underlay carries no plaintext: capture VXLAN while pinging with a marker payload', async () => {
      const pcap = path.join(cluster.dir, 'underlay.pcap');
      const cap = spawn('ip', ['netns', 'exec', cluster.underlay, 'tcpdump', '-i', 'br0', '--immediate-mode', '-U', '-w', pcap, 'udp', 'and', '(', 'port', '4789', 'or', 'port', '4790', ')'], { stdio: 'ignore' }); // the kernel path's port and the switch's (encrypted networks)
      try {
        await new Promise((r) => setTimeout(r, 1000));
        // "WEFTDEMO" repeated through every ICMP payload
        weft(h1, ['exec', 'alpine1', '--', 'ping', '-c', '5', '-i', '0.2', '-p', '5745465444454d4f', 'alpine2']);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        cap.kill('SIGINT');
        await new Promise((r) => cap.once('exit', r));
      }
      const bytes = fs.readFileSync(pcap);
      const datagrams = countPcapRecords(bytes);
      const leaked = bytes.includes(Buffer.from('WEFTDEMO'));
      say(`captured ${datagrams} VXLAN datagrams (${bytes.length} bytes) on the underlay bridge`);
      say(leaked ? 'the marker WEFTDEMO is visible on the wire!' : 'the marker WEFTDEMO appears in none of them: every datagram is sealed');
      check(datagrams >= 10, `expected at least 10 datagrams on the underlay, captured ${datagrams}`);
      check(!leaked, 'plaintext on the underlay of an encrypted network');
    });

    await step('Inspect the network from h2: the endpoints of every host', async () => {
      const out = weft(h2, ['network', 'inspect', 'web']);
      const n = JSON.parse(out)[0] as { Endpoints: unknown[]; Encrypted: boolean };
      check(n.Endpoints.length === 2, `expected 2 endpoints, saw ${n.Endpoints.length}`);
      check(n.Encrypted, 'the network should be encrypted');
    });

    await step('Remove the sandboxes and the network', async () => {
      weft(h1, ['rm', '-f', 'alpine1']);
      weft(h2, ['rm', '-f', 'alpine2']);
      weft(h1, ['network', 'rm', 'web']);
    });
    return 0;
  } catch (e) {
    process.stderr.write(`\nweft demo FAILED at step ${stepNo}: ${(e as Error).message}\n`);
    if (c !== undefined) for (const h of c.hosts) process.stderr.write(`   agent log of ${h.name}: ${h.logFile}\n`);
    return 1;
  } finally {
    if (c !== undefined) {
      const cl = c;
      await step('Clean up: stop the agents, delete every namespace, device and file', async () => {
        await cl.destroy();
        say('nothing left behind');
      }).catch((e) => process.stderr.write(`cleanup failed: ${(e as Error).message}\n`));
    }
    process.stdout.write(`\n${bold(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)}\n`);
  }
}

/** Records in a classic pcap file (24-byte header, then 16-byte record headers). */
function countPcapRecords(b: Buffer): number {
  if (b.length < 24) return 0;
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  let off = 24;
  let n = 0;
  while (off + 16 <= b.length) {
    const incl = le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
    off += 16 + incl;
    if (off <= b.length) n++;
  }
  return n;
}

process.exit(await main());
