/**
 * Root integration test with a real Docker Engine 20.10 (Debian `docker.io`):
 *
 *   host 1 = a network namespace running dockerd AND weft-agent (so the TAP the overlay creates is
 *            in dockerd's namespace, where Docker looks for Join's SrcName); the agent serves
 *            Docker's plugin protocol, found through /etc/docker/plugins/<unique>.spec
 *   host 2 = a network namespace running weft-agent with a Weft sandbox
 *
 * Two containers on the Docker network ping each other and the sandbox on host 2, both ways; the
 * plaintext network is on the kernel data path (veths), the encrypted one on the userspace switch
 * (TAPs); an agent restart between the container starts breaks neither Docker's next requests nor
 * the running container (it keeps its veth); Docker's embedded DNS forwards the sandbox's name to Weft's resolver (one
 * responder in the agent, no process per container); a Weft service resolves to its VIP inside a
 * container and both tasks answer through it (VIP balanced in the container's namespace); a
 * network without --subnet gets one from the swarm's pools; a dockerd
 * restart replays nothing and the network keeps working; the same pings over an --opt encrypted network; a dual-stack
 * network (--ipv6, two --subnet): containers and the sandbox ping each other over IPv6 (and --ip6); container removal and
 * `docker network rm` leave nothing behind.
 *
 * Skips (with the reason) unless root with dockerd, docker and busybox-static installed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@weft/api';
import { readStore } from '@weft/store';
import { agentCommand, eventually } from '@weft/testing/cluster';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const TOOLS = process.env.WEFT_DOCKERD_TOOLS ?? path.resolve(repo, '../shared/tools/dockerd');
const DOCKER = '/usr/bin/docker';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  for (const f of ['/usr/sbin/dockerd', DOCKER, '/bin/busybox', path.join(TOOLS, 'docker-sandbox.sh')]) {
    if (!fs.existsSync(f)) return `${f} is missing (apt-get install docker.io busybox-static)`;
  }
  return undefined;
}

const tag = `wdk${process.pid % 100000}`;
const BASE = `/tmp/weft-dockerd-${tag}`;
const H1 = `${tag}-h1`; // dockerd's namespace and host 1
const H2 = `${tag}-h2`;
const PLUGIN = `weft${tag}`; // Docker's name for the plugin: the spec file's name
const SPEC = `/etc/docker/plugins/${PLUGIN}.spec`;
const SUBNET = '10.240.7.0/24';
const SANDBOX = `${tag}s2`;
const env = { ...process.env, BASE, NETNS: H1 };

interface Run {
  code: number;
  out: string;
}
function run(cmd: string, args: readonly string[], timeout = 60_000, extraEnv: NodeJS.ProcessEnv = {}): Run {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, env: { ...env, ...extraEnv } });
    return { code: 0, out };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string; message: string };
    return { code: err.status ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}${err.status === undefined ? err.message : ''}` };
  }
}
const must = (cmd: string, args: readonly string[], timeout?: number): string => {
  const r = run(cmd, args, timeout);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.out.trim()}`);
  return r.out;
};
const docker = (...args: string[]) => run(DOCKER, ['-H', `unix://${BASE}/run/docker.sock`, ...args], 60_000);
const dockerOk = (...args: string[]) => {
  const r = docker(...args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.out.trim()}`);
  return r.out.trim();
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Agent {
  readonly name: string;
  readonly ns: string;
  readonly addr: string;
  readonly socket: string;
  readonly state: string;
  readonly log: string;
  readonly client: Client;
  readonly extra: string[];
  readonly env: NodeJS.ProcessEnv;
  proc?: ChildProcess | undefined;
}

async function startAgent(a: Agent): Promise<void> {
  const log = fs.openSync(a.log, 'a');
  // nsenter --net (not ip netns exec): the agent shares the mount namespace with dockerd.
  a.proc = spawn('nsenter', [`--net=/run/netns/${a.ns}`, ...agentCommand(), '--socket', a.socket, '--state-dir', a.state, '--node-name', a.name, '--advertise-addr', a.addr, ...a.extra], {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...a.env },
  });
  fs.closeSync(log);
  // 45 s as the cluster harness gives: a loaded 2-core CI machine starts agents slowly.
  const end = Date.now() + 45_000;
  for (;;) {
    try {
      if ((await a.client.version()).Version !== '') return;
    } catch {
      /* not yet */
    }
    if (a.proc.exitCode !== null || Date.now() > end) throw new Error(`agent ${a.name} did not start; log:\n${fs.readFileSync(a.log, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
}

async function stopAgent(a: Agent, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const p = a.proc;
  if (p?.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(signal);
  await Promise.race([done, sleep(8000)]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await done;
  }
  a.proc = undefined;
}

const ipIn = (ns: string, args: string[]) => run('ip', ['-n', ns, ...args]);
const links = (ns: string) => {
  const r = ipIn(ns, ['-j', 'link', 'show']);
  return r.code === 0 ? (JSON.parse(r.out) as { ifname: string }[]).map((l) => l.ifname) : [];
};
/** PIDs of per-container DNS relays (what earlier versions ran) serving containers of this test's dockerd: there must be none. */
const bridges = () =>
  fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const c = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return c.includes('dns-bridge.mjs') && c.includes(BASE);
    } catch {
      return false;
    }
  });
const containerIp = (c: string) => dockerOk('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c);
const pingFrom = (c: string, ip: string) => docker('exec', c, 'ping', '-c', '1', '-W', '1', ip).code === 0;
/** A container's eth0 as its namespace shows it: ifindex and kind (`veth` on the kernel data path, `tun` on the userspace switch). */
const eth0Of = (c: string) => {
  const key = dockerOk('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', c);
  const l = (JSON.parse(must('nsenter', [`--net=${key}`, 'ip', '-d', '-j', 'link', 'show', 'eth0'])) as { ifindex: number; linkinfo?: { info_kind?: string } }[])[0]!;
  return { ifindex: l.ifindex, kind: l.linkinfo?.info_kind ?? '' };
};

const reason = skipReason();
if (reason !== undefined) {
  console.log(`  SKIP dockerd.test.ts (real Docker Engine integration): ${reason}`);
} else {
  test('Docker Engine 20.10 on host 1 + Weft sandbox on host 2: containers and sandbox ping both ways, restart, encrypted, clean teardown', async () => {
    const t0 = Date.now();
    const lap = (what: string) => console.log(`    ${((Date.now() - t0) / 1000).toFixed(1)} s  ${what}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`));
    const mk = (name: string, ns: string, addr: string, extra: string[], e: NodeJS.ProcessEnv = {}): Agent => ({
      name, ns, addr, socket: path.join(dir, `${name}.sock`), state: path.join(dir, name), log: path.join(dir, `${name}.log`), client: createClient(path.join(dir, `${name}.sock`)), extra, env: e,
    });
    const dockerSock = path.join(dir, 'h1-docker.sock');
    const a1 = mk('h1', H1, '198.18.40.1', ['--docker-plugin', dockerSock], { WEFT_DOCKER_HOST: `unix://${BASE}/run/docker.sock` });
    const a2 = mk('h2', H2, '198.18.40.2', ['--docker-plugin', 'off']);
    let dockerdUp = false;
    /** Prefixes of the kernel data path's network namespaces (`wfk-<inode of the agent's namespace>-`), removed at the end even after a failure. */
    const kernelNs: string[] = [];
    try {
      // hosts and underlay
      for (const ns of [H1, H2]) {
        must('ip', ['netns', 'add', ns]);
        must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        kernelNs.push(`wfk-${fs.statSync(`/run/netns/${ns}`).ino.toString(36)}-`);
      }
      must('ip', ['-n', H1, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', H2]);
      must('ip', ['-n', H1, 'addr', 'add', '198.18.40.1/24', 'dev', 'ul0']);
      must('ip', ['-n', H2, 'addr', 'add', '198.18.40.2/24', 'dev', 'ul0']);
      must('ip', ['-n', H1, 'link', 'set', 'ul0', 'up']);
      must('ip', ['-n', H2, 'link', 'set', 'ul0', 'up']);
      fs.mkdirSync('/etc/docker/plugins', { recursive: true });
      fs.writeFileSync(SPEC, `unix://${dockerSock}\n`);

      await Promise.all([startAgent(a1), startAgent(a2)]);
      await a1.client.swarmInit({ AdvertiseAddr: a1.addr } as never);
      const token = (await a1.client.joinToken('worker')).Token;
      await a2.client.swarmJoin({ JoinToken: token, RemoteAddrs: [`${a1.addr}:2377`] } as never);
      lap('two agents, swarm of two');

      const up = run(path.join(TOOLS, 'docker-sandbox.sh'), ['up'], 120_000);
      dockerdUp = true;
      assert.is(up.code, 0, `dockerd up: ${up.out}`);
      lap('dockerd up in host 1\'s namespace, image bb imported');

      // The Docker network, named like the Weft network it maps to (found through WEFT_DOCKER_HOST).
      dockerOk('network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--subnet', SUBNET, 'dnet');
      dockerOk('run', '-d', '--name', 'c1', '--network', 'dnet', '--dns', '127.0.0.53', 'bb', 'sleep', '600');
      lap('docker network create + docker run c1');
      const nets = await a1.client.networks();
      const w = nets.find((n) => n.Name === 'dnet');
      assert.ok(w, `Weft network "dnet" created through the control plane (have: ${nets.map((n) => n.Name).join(', ')})`);
      assert.is(dockerOk('exec', 'c1', 'cat', '/sys/class/net/eth0/mtu'), String(w!.MTU), 'eth0 has the network MTU');
      // A plaintext Docker network goes to the kernel data path, as Weft's own do: c1's eth0 is a veth.
      // (Agents on Deno have no kernel path, docs/deno.md: there it is the switch's TAP.)
      const onDeno = 'Deno' in globalThis;
      assert.is((await a1.client.network('dnet')).DataPlane, onDeno ? 'userspace' : 'kernel', 'the plaintext Docker network is on the kernel data path');
      const c1eth0 = eth0Of('c1');
      assert.is(c1eth0.kind, onDeno ? 'tun' : 'veth', "c1's eth0 is the kernel path's veth");

      const sb = await a2.client.sandboxCreate({ Name: SANDBOX, Networks: [{ Name: 'dnet' }], Cmd: ['sleep', '600'] });
      const sbIp = (sb.Networks.dnet?.IPAddress ?? '').split('/')[0]!;
      assert.ok(sbIp !== '', 'sandbox on host 2 has an address');

      // A plugin restart between container starts: Docker's next requests still work, c1 keeps working.
      await stopAgent(a1);
      await startAgent(a1);
      lap('agent on host 1 restarted');
      if (!onDeno) assert.equal(eth0Of('c1'), c1eth0, 'c1 kept its eth0 through the restart (the veth pair was re-attached, not made again)');
      dockerOk('run', '-d', '--name', 'c2', '--network', 'dnet', '--dns', '127.0.0.53', 'bb', 'sleep', '600');
      lap('docker run c2 after the restart');

      const ip1 = containerIp('c1');
      const ip2 = containerIp('c2');
      const inSb = (ip: string) => run('nsenter', [`--net=${sb.NetnsPath}`, 'ping', '-c', '1', '-W', '1', ip]).code === 0;
      await eventually(() => pingFrom('c1', ip2), 15_000, `c1 -> c2 (${ip2})`);
      await eventually(() => pingFrom('c2', ip1), 15_000, `c2 -> c1 (${ip1})`);
      await eventually(() => pingFrom('c1', sbIp), 15_000, `c1 -> sandbox on host 2 (${sbIp})`);
      await eventually(() => pingFrom('c2', sbIp), 15_000, `c2 -> sandbox on host 2 (${sbIp})`);
      await eventually(() => inSb(ip1), 15_000, `sandbox on host 2 -> c1 (${ip1})`);
      await eventually(() => inSb(ip2), 15_000, `sandbox on host 2 -> c2 (${ip2})`);
      lap('pings: c1<->c2, c1/c2<->sandbox on host 2');

      // Docker's embedded DNS answers c2 itself and forwards the sandbox's name to Weft's resolver.
      const lookup = (c: string, name: string) => docker('exec', c, 'nslookup', name);
      await eventually(() => lookup('c1', SANDBOX).out.includes(sbIp), 20_000, `c1 resolves ${SANDBOX} (host 2) through Weft`);
      await eventually(() => lookup('c2', SANDBOX).out.includes(sbIp), 20_000, `c2 resolves ${SANDBOX} (host 2) through Weft`);
      // One responder in the agent serves every container: no relay process per container.
      assert.equal(bridges(), [], 'no per-container DNS relay process');
      assert.ok(lookup('c1', 'c2').out.includes(ip2), 'Docker\'s own names still resolve');
      // Container names are published to Weft's resolver too (for other hosts' containers and sandboxes).
      await eventually(() => docker('exec', 'c1', 'nslookup', 'c2', '127.0.0.53').out.includes(ip2), 20_000, 'Weft\'s resolver answers the container name c2');
      lap('DNS: Docker names by Docker, Weft names forwarded to Weft\'s resolver');

      // A Weft service on the same network: containers resolve its name to its VIP and reach the
      // VIP, balanced inside their own namespace as in a Weft sandbox (tasks: the nginx stand-in).
      const svcName = `${tag}svc`;
      await a1.client.serviceCreate({ Name: svcName, TaskTemplate: { ContainerSpec: { Command: [], Image: 'nginx' }, Networks: [{ Target: 'dnet' }] }, Mode: { Replicated: { Replicas: 2 } } });
      await eventually(async () => (await a1.client.service(svcName)).ServiceStatus?.RunningTasks === 2, 30_000, 'two tasks of the service running');
      const vip = ((await a1.client.service(svcName)).Endpoint?.VirtualIPs ?? [])[0]?.Addr.split('/')[0] ?? '';
      assert.ok(vip !== '', 'the service has a VIP on dnet');
      await eventually(() => lookup('c1', svcName).out.includes(vip), 20_000, `c1 resolves ${svcName} to its VIP ${vip}`);
      const c1ns = dockerOk('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'c1');
      const vipRules = () => run('nsenter', [`--net=${c1ns}`, 'iptables', '-t', 'nat', '-S', 'WEFT-VIP']).out;
      await eventually(() => new RegExp(`-d ${vip.replace(/\./g, '\\.')}/32 .*-j DNAT`).test(vipRules()), 20_000, `VIP rules in c1's namespace (${c1ns})`).catch((e) => {
        console.log('c1 rules:', vipRules(), '\nagent log:', run('tail', ['-n', '40', a1.log]).out);
        throw e;
      });
      // (the busybox-static image's wget crashes; nc speaks HTTP to the address nslookup gave)
      const get = (ip: string) => docker('exec', 'c1', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`).out;
      let got = '';
      await eventually(() => (got = get(vip)).includes('Welcome to Weft'), 20_000, `c1 reaches ${svcName} through its VIP ${vip}`).catch((e) => {
        console.log('answer:', JSON.stringify(got), '\nrules:', vipRules());
        throw e;
      });
      // Both tasks answer (the balancer spreads connections): each page names its task.
      const seen = new Set<string>();
      await eventually(() => {
        const m = /Served by (\S+)/.exec(get(vip));
        if (m !== null) seen.add(m[1]!);
        return seen.size === 2;
      }, 20_000, 'both tasks answer through the VIP');
      await a1.client.serviceRemove(svcName);
      lap('a Weft service: name → VIP, VIP balanced inside the container');

      // docker network create -d weft --ipam-driver weft NAME, without --subnet: a subnet from the swarm's pools.
      dockerOk('network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, 'nosub');
      const made = (await a1.client.networks()).find((n) => n.Labels['weft.docker.created'] === 'true');
      assert.ok(made !== undefined && made.Attachable && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(made.IPAM.Config[0]?.Subnet ?? ''), `a Weft network with a subnet from the pools: ${JSON.stringify(made?.IPAM)}`);
      assert.is(dockerOk('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'nosub'), made!.IPAM.Config[0]!.Subnet);
      dockerOk('run', '-d', '--name', 'c5', '--network', 'nosub', 'bb', 'sleep', '600');
      const ip5 = containerIp('c5');
      assert.ok(ip5.split('.').slice(0, 2).join('.') === made!.IPAM.Config[0]!.Subnet!.split('.').slice(0, 2).join('.'), `c5 (${ip5}) is on ${made!.IPAM.Config[0]!.Subnet}`);
      dockerOk('rm', '-f', 'c5');
      dockerOk('network', 'rm', 'nosub');
      await eventually(async () => !(await a1.client.networks()).some((n) => n.Id === made!.Id), 15_000, 'the Weft network made for it goes with the Docker network');
      lap('docker network create without --subnet: a subnet from the swarm\'s pools');

      // --opt encrypted: the same, on an encrypted overlay (Docker's own encrypted overlay cannot work on this kernel).
      dockerOk('network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--subnet', '10.240.8.0/24', '--opt', 'encrypted', '-o', 'weft.network=enet', 'enet');
      const enet = (await a1.client.networks()).find((n) => n.Name === 'enet');
      assert.ok(enet?.Encrypted, 'the Weft network is encrypted');
      dockerOk('run', '-d', '--name', 'e1', '--network', 'enet', 'bb', 'sleep', '600');
      dockerOk('run', '-d', '--name', 'e2', '--network', 'enet', 'bb', 'sleep', '600');
      assert.is(dockerOk('exec', 'e1', 'cat', '/sys/class/net/eth0/mtu'), String(enet!.MTU), 'eth0 has the encrypted network MTU');
      assert.is((await a1.client.network('enet')).DataPlane, 'userspace', 'the encrypted Docker network is on the userspace switch');
      assert.is(eth0Of('e1').kind, 'tun', "e1's eth0 is the switch's TAP");
      const esb = await a2.client.sandboxCreate({ Name: `${SANDBOX}e`, Networks: [{ Name: 'enet' }], Cmd: ['sleep', '600'] });
      const esbIp = (esb.Networks.enet?.IPAddress ?? '').split('/')[0]!;
      const ie1 = containerIp('e1');
      const ie2 = containerIp('e2');
      const inEsb = (ip: string) => run('nsenter', [`--net=${esb.NetnsPath}`, 'ping', '-c', '1', '-W', '1', ip]).code === 0;
      await eventually(() => pingFrom('e1', ie2), 15_000, `e1 -> e2 (${ie2}), encrypted`);
      await eventually(() => pingFrom('e2', ie1), 15_000, `e2 -> e1 (${ie1}), encrypted`);
      await eventually(() => pingFrom('e1', esbIp), 15_000, `e1 -> sandbox on host 2 (${esbIp}), encrypted`);
      await eventually(() => inEsb(ie1), 15_000, `sandbox on host 2 -> e1 (${ie1}), encrypted`);
      await eventually(() => inEsb(ie2), 15_000, `sandbox on host 2 -> e2 (${ie2}), encrypted`);
      dockerOk('rm', '-f', 'e1', 'e2');
      await a2.client.sandboxRemove(`${SANDBOX}e`, true);
      dockerOk('network', 'rm', 'enet');
      lap('--opt encrypted: containers and sandbox ping both ways, sealed');

      // --ipv6 (#22): a dual-stack Docker network; containers get both addresses and ping each
      // other and a Weft sandbox on host 2 over IPv6.
      dockerOk('network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--ipv6', '--subnet', '10.240.9.0/24', '--subnet', 'fd00:240:9::/64', 'd6net');
      dockerOk('run', '-d', '--name', 'v1', '--network', 'd6net', 'bb', 'sleep', '600');
      // (its Weft network is made when the first container asks for an address: the name comes from dockerd)
      const d6 = (await a1.client.networks()).find((n) => n.Name === 'd6net');
      assert.ok(d6?.EnableIPv6, `the Weft network d6net is dual-stack: ${JSON.stringify(d6?.IPAM)}`);
      assert.equal(d6!.IPAM.Config.map((x) => x.Subnet), ['10.240.9.0/24', 'fd00:240:9::/64']);
      dockerOk('run', '-d', '--name', 'v2', '--network', 'd6net', '--ip6', 'fd00:240:9::99', 'bb', 'sleep', '600');
      const v6Of = (c: string) => dockerOk('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}', c);
      const v61 = v6Of('v1');
      assert.match(v61, /^fd00:240:9::/, `v1 has an IPv6 address: ${v61}`);
      assert.is(v6Of('v2'), 'fd00:240:9::99', 'docker run --ip6');
      assert.match(dockerOk('exec', 'v1', 'ip', '-6', 'addr', 'show', 'dev', 'eth0'), `${v61}/64`);
      assert.match(dockerOk('exec', 'v1', 'ip', '-6', 'route'), 'default via fd00:240:9::1');
      const v6sb = await a2.client.sandboxCreate({ Name: `${SANDBOX}6`, Networks: [{ Name: 'd6net' }], Cmd: ['sleep', '600'] });
      const sb6 = (v6sb.Networks.d6net?.GlobalIPv6Address ?? '').split('/')[0]!;
      assert.match(sb6, /^fd00:240:9::/, 'the sandbox on host 2 has an IPv6 address too');
      const ping6 = (c: string, ip: string) => docker('exec', c, 'ping', '-6', '-c', '1', '-W', '1', ip).code === 0;
      await eventually(() => ping6('v1', 'fd00:240:9::99'), 15_000, 'v1 -> v2 over IPv6');
      await eventually(() => ping6('v2', v61), 15_000, 'v2 -> v1 over IPv6');
      await eventually(() => ping6('v1', sb6), 15_000, `v1 -> sandbox on host 2 over IPv6 (${sb6})`);
      await eventually(() => run('nsenter', [`--net=${v6sb.NetnsPath}`, 'ping', '-6', '-c', '1', '-W', '1', v61]).code === 0, 15_000, `sandbox on host 2 -> v1 over IPv6 (${v61})`);
      await eventually(() => pingFrom('v1', containerIp('v2')), 15_000, 'and over IPv4');
      dockerOk('rm', '-f', 'v1', 'v2');
      await a2.client.sandboxRemove(`${SANDBOX}6`, true);
      dockerOk('network', 'rm', 'd6net');
      assert.not.ok((await a1.client.networks()).some((n) => n.Name === 'd6net'), 'docker network rm removed the dual-stack Weft network');
      lap('--ipv6: containers and a sandbox on host 2 ping each other over IPv6');

      // A dockerd restart replays nothing; the network keeps working from the plugin's state.
      const down = run(path.join(TOOLS, 'dockerd-down.sh'), [], 60_000); // removes c1 and c2 first
      assert.is(down.code, 0, `dockerd down: ${down.out}`);
      assert.equal(links(H1).filter((l) => l.startsWith('wft')), [], 'no TAP left after dockerd removed its containers');
      const again = run(path.join(TOOLS, 'docker-sandbox.sh'), ['up'], 120_000);
      assert.is(again.code, 0, `dockerd up again: ${again.out}`);
      dockerOk('run', '-d', '--name', 'c3', '--network', 'dnet', '--dns', '127.0.0.53', 'bb', 'sleep', '600');
      await eventually(() => pingFrom('c3', sbIp), 15_000, `c3 (after a dockerd restart) -> sandbox on host 2 (${sbIp})`);
      lap('dockerd restarted: c1, c2 removed by it; c3 on the same network reaches host 2');

      // Teardown leaves nothing behind.
      dockerOk('rm', '-f', 'c3');
      assert.equal(links(H1).filter((l) => l.startsWith('wft')), [], 'no TAP left in dockerd\'s namespace');
      assert.equal(bridges(), [], 'no DNS bridge left running');
      const after = await a1.client.network('dnet');
      assert.equal(after.Endpoints.map((e) => e.Name).filter((n) => n !== SANDBOX), [], 'only the sandbox\'s endpoint is left');
      await a2.client.sandboxRemove(SANDBOX, true);
      dockerOk('network', 'rm', 'dnet');
      assert.not.ok((await a1.client.networks()).some((n) => n.Name === 'dnet'), 'Docker created the Weft network, docker network rm removed it');
      const records = async (prefix: string) => [...(await readStore(path.join(a1.state, 'state'), prefix)).keys()];
      assert.equal(await records('weft/'), [], 'the plugin\'s own records are gone');
      assert.equal(await records('ipam/s/'), [], 'no pool, gateway or address left in host 1\'s IPAM');
      assert.equal(fs.readdirSync('/run/netns').filter((n) => kernelNs.some((p) => n.startsWith(p))), [], "no namespace of the kernel data path left on either host");
      lap('rm -f, network rm: no interface, endpoint, network, address or record left');
    } finally {
      if (dockerdUp) {
        docker('rm', '-f', 'c1', 'c2', 'c3', 'e1', 'v1', 'v2');
        docker('network', 'rm', 'dnet', 'enet', 'd6net');
      }
      run(path.join(TOOLS, 'docker-sandbox.sh'), ['down', '--purge'], 60_000);
      for (const p of bridges()) run('kill', [p]);
      await stopAgent(a1, 'SIGKILL');
      await stopAgent(a2, 'SIGKILL');
      for (const ns of [SANDBOX, `${SANDBOX}e`, `${SANDBOX}6`, H2, H1]) if (fs.existsSync(`/run/netns/${ns}`)) run('ip', ['netns', 'del', ns]);
      for (const ns of fs.readdirSync('/run/netns').filter((n) => kernelNs.some((p) => n.startsWith(p)))) run('ip', ['netns', 'del', ns]);
      fs.rmSync(SPEC, { force: true });
      if (process.env.WEFT_KEEP_LOGS === undefined) fs.rmSync(dir, { recursive: true, force: true });
      else console.log(`    logs kept in ${dir}`);
      fs.rmSync(BASE, { recursive: true, force: true });
    }
  });
}

test.run();
