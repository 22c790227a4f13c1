/**
 * End-to-end: services and stacks on a three-host cluster (real agents in namespaces). Root only.
 * Names are resolved inside the sandboxes (the switch answers DNS on the gateway).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliCommand, createCluster, eventually, formSwarm, type Cluster, type Host } from '@weft/testing/cluster';
import { evalCommand } from '@weft/sys';

/** `weft -H <host's socket> ARGS` (the CLI on this runtime, or WEFT_CLI_BIN); its stdout, throwing on a non-zero exit. */
const weftCli = (h: Host, args: readonly string[]): string => {
  const [cmd, ...pre] = cliCommand();
  return execFileSync(cmd as string, [...pre, '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
};
import type { Sandbox } from '@weft/api';

const root = process.getuid?.() === 0;
const tag = `v${process.pid % 1000}`;

/** Task sandboxes of `service` on every host: host name → sandboxes. */
async function taskBoxes(c: Cluster, service: string): Promise<{ host: Host; sb: Sandbox }[]> {
  const out: { host: Host; sb: Sandbox }[] = [];
  for (const h of c.hosts) for (const sb of await h.client.sandboxes()) if (sb.Name.startsWith(`${service}.`)) out.push({ host: h, sb });
  return out;
}
const ipIn = (sb: Sandbox, net: string) => sb.Networks[net]?.IPAddress.split('/')[0] ?? '';
const dig = (c: Cluster, from: string, name: string, server?: string) =>
  c.inSandbox(from, ['dig', '+short', '+tries=1', '+time=2', ...(server !== undefined ? [`@${server}`] : []), name]).out.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l)).sort();
const pings = (c: Cluster, from: string, ip: string) => c.inSandbox(from, ['ping', '-c', '1', '-W', '1', ip]).code === 0;
const same = (a: readonly string[], b: readonly string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
/** A UDP echo (node): replies "<its /etc/hostname>:<datagram>" to each datagram on `port`. */
const udpEcho = (port: number) =>
  `const d=require('dgram').createSocket('udp4'),me=require('fs').readFileSync('/etc/hostname','utf8').trim();d.on('message',(m,r)=>d.send(me+':'+m,r.port,r.address));d.bind(${port})`;
/** Sends one datagram to addr:port from the namespace `ns`; the reply, or '' after 2 s. */
function udpAsk(ns: string, addr: string, port: number, text: string): string {
  const js = `const d=require('dgram').createSocket('udp4');d.on('message',(m)=>{process.stdout.write(String(m));process.exit(0)});d.send(${JSON.stringify(text)},${port},${JSON.stringify(addr)});setTimeout(()=>process.exit(1),2000)`;
  try {
    return execFileSync('ip', ['netns', 'exec', ns, ...evalCommand(js, [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 8000 });
  } catch {
    return '';
  }
}

if (!root) {
  test('services end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root to include the multi-host service tests'));
} else {
  test('service: 3 replicas spread over 3 hosts, DNS (tasks.S, S, alias), kill -9 replaced, scale, rm', async () => {
    const c = await createCluster(3, { tag: `${tag}s`, subnet: 60 });
    const S = `${tag}api`;
    try {
      const m = await formSwarm(c);
      // Not attachable: service tasks may attach anyway (Docker's rule).
      await m.client.networkCreate({ Name: `${tag}net`, Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.160.0.0/24' }] } });
      const r = await m.client.serviceCreate({
        Name: S,
        TaskTemplate: { ContainerSpec: { Command: ['sleep', '3600'] }, Networks: [{ Target: `${tag}net`, Aliases: [`${tag}alias`] }] },
        Mode: { Replicated: { Replicas: 3 } },
        EndpointSpec: { Mode: 'dnsrr' },
      });
      assert.ok(r.ID.length > 0);
      // A worker is not the leader: it refuses, Docker-style.
      assert.match(await c.hosts[1]!.client.services().then(() => '(no error)', (e: Error) => e.message), /not a swarm manager/);
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 3, 30_000, '3 running tasks');
      let boxes = await taskBoxes(c, S);
      assert.equal(boxes.map((b) => b.host.name).sort(), c.hosts.map((h) => h.name).sort(), 'one task per host');
      assert.ok(boxes.every((b) => /^.+\.[1-3]\.[0-9a-f]+$/.test(b.sb.Name)), 'tasks are named SERVICE.SLOT.ID');
      const tasks = await m.client.tasks({ service: [S] });
      assert.equal(tasks.filter((t) => t.DesiredState === 'running').map((t) => t.Slot).sort(), [1, 2, 3]);

      // DNS inside a task: tasks.S, S (dnsrr) and the alias resolve to every task.
      let ips = boxes.map((b) => ipIn(b.sb, `${tag}net`));
      const probe = boxes[0]!.sb.Name;
      await eventually(() => same(dig(c, probe, `tasks.${S}`), ips), 15_000, `tasks.${S} → ${ips}`);
      await eventually(() => same(dig(c, probe, S), ips), 15_000, `${S} → ${ips}`);
      await eventually(() => same(dig(c, probe, `${tag}alias`), ips), 15_000, `${tag}alias → ${ips}`);
      for (const ip of ips) await eventually(() => pings(c, probe, ip), 10_000, `${probe} → ${ip}`);

      // kill -9 one task's process (on a worker): it is replaced, and DNS follows.
      const victim = boxes.find((b) => b.host !== m)!;
      process.kill(victim.sb.Pid, 'SIGKILL');
      await eventually(async () => {
        const now = await taskBoxes(c, S);
        return now.length === 3 && !now.some((b) => b.sb.Name === victim.sb.Name) && now.every((b) => b.sb.State === 'running');
      }, 30_000, 'the killed task replaced');
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 3, 15_000, '3 running again');
      const failed = (await m.client.tasks({ service: [S] })).find((t) => t.Name === victim.sb.Name);
      assert.equal(failed?.Status.State, 'failed');
      boxes = await taskBoxes(c, S);
      ips = boxes.map((b) => ipIn(b.sb, `${tag}net`));
      const probe2 = boxes.find((b) => b.host === m)!.sb.Name;
      await eventually(() => same(dig(c, probe2, `tasks.${S}`), ips), 15_000, `tasks.${S} updated → ${ips}`);

      // scale up, then down: every host follows; DNS follows.
      let svc = await m.client.service(S);
      await m.client.serviceUpdate(svc.ID, svc.Version.Index, { ...svc.Spec, Mode: { Replicated: { Replicas: 5 } } });
      await eventually(async () => (await taskBoxes(c, S)).filter((b) => b.sb.State === 'running').length === 5, 30_000, '5 tasks');
      svc = await m.client.service(S);
      await m.client.serviceUpdate(svc.ID, svc.Version.Index, { ...svc.Spec, Mode: { Replicated: { Replicas: 2 } } });
      await eventually(async () => (await taskBoxes(c, S)).length === 2, 30_000, '2 tasks');
      boxes = await taskBoxes(c, S);
      ips = boxes.map((b) => ipIn(b.sb, `${tag}net`));
      await eventually(() => same(dig(c, boxes[0]!.sb.Name, `tasks.${S}`), ips), 15_000, `tasks.${S} after scale down → ${ips}`);

      // rm: every task everywhere.
      await m.client.serviceRemove(S);
      await eventually(async () => (await taskBoxes(c, S)).length === 0, 30_000, 'no task left on any host');
      assert.equal((await m.client.services()).filter((s) => s.Spec.Name === S), []);
    } finally {
      await c.destroy();
    }
  });

  test('node death: tasks rescheduled; the node removes its stale tasks when it returns; the leader keeps services across a restart; CLI', async () => {
    const c = await createCluster(3, { tag: `${tag}d`, subnet: 66 });
    const S = `${tag}dur`;
    try {
      const m = await formSwarm(c);
      await m.client.networkCreate({ Name: `${tag}dnet`, Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.166.0.0/24' }] } });
      const cli = (...args: string[]) => weftCli(m, args);
      // Endpoint mode vip (the default): one VIP on the network; the name resolves to it.
      cli('service', 'create', '--name', S, '--replicas', '3', '--network', `${tag}dnet`, '--', 'sleep', '3600');
      await eventually(() => /3\/3/.test(cli('service', 'ls')), 30_000, 'service ls shows 3/3');
      const vips = (await m.client.service(S)).Endpoint?.VirtualIPs ?? [];
      assert.equal(vips.length, 1);
      assert.match(vips[0]!.Addr, /^10\.166\.0\.\d+\/24$/);
      const all = await taskBoxes(c, S);
      await eventually(() => same(dig(c, all[0]!.sb.Name, S), [vips[0]!.Addr.split('/')[0]!]), 15_000, `${S} → its VIP`);
      const victim = c.hosts[2]!;
      assert.equal((await taskBoxes(c, S)).filter((b) => b.host === victim).length, 1);
      await c.stopAgent(victim, 'SIGKILL');
      await eventually(async () => {
        const live = (await m.client.tasks({ service: [S], 'desired-state': ['running'] })).filter((t) => t.Status.State === 'running');
        return live.length === 3 && live.every((t) => t.NodeID !== victim.name);
      }, 60_000, `tasks moved off ${victim.name}`);
      assert.match(cli('service', 'ps', S), /Orphaned|orphaned/);
      await c.startAgent(victim);
      await eventually(async () => (await taskBoxes(c, S)).filter((b) => b.host === victim).length === 0, 30_000, `${victim.name} removes its stale task`);
      // The leader restarts over its state dir: the service and its running tasks are kept.
      const before = (await m.client.tasks({ service: [S], 'desired-state': ['running'] })).map((t) => t.ID).sort();
      const sandboxesBefore = (await taskBoxes(c, S)).map((b) => `${b.sb.Name}@${b.sb.Id}`).sort();
      const onWorker = (await taskBoxes(c, S)).find((b) => b.host !== m)!;
      await c.stopAgent(m);
      // While the leader is away (it left gossip, so its table entries are gone everywhere), the
      // other nodes keep its VIP balanced in their sandboxes.
      await new Promise((r) => setTimeout(r, 3000));
      assert.match(c.inSandbox(onWorker.sb.Name, ['iptables', '-t', 'nat', '-S', 'WEFT-VIP']).out, new RegExp(`-d ${vips[0]!.Addr.split('/')[0]!.replace(/\./g, '\\.')}/32 .*-j DNAT`), 'VIP rules kept while the leader restarts');
      await c.startAgent(m);
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 3, 30_000, 'service back after leader restart');
      const afterIds = (await m.client.tasks({ service: [S], 'desired-state': ['running'] })).map((t) => t.ID).sort();
      if (JSON.stringify(afterIds) !== JSON.stringify(before)) {
        // Say why a task was replaced (its history, the leader's log) before failing.
        console.log('task history:', JSON.stringify(await m.client.tasks({ service: [S] }), null, 1));
        console.log(execFileSync('sh', ['-c', `grep -i 'service\\|vip\\|task' ${m.logFile} | tail -40`], { encoding: 'utf8' }));
      }
      assert.equal(afterIds, before, 'same tasks, none restarted');
      // Not even recreated under the same task ID: the leader's entries vanish from every node's
      // tables while it is away, and the nodes keep their tasks running meanwhile.
      await new Promise((r) => setTimeout(r, 2000));
      const sandboxesAfter = (await taskBoxes(c, S)).map((b) => `${b.sb.Name}@${b.sb.Id}`).sort();
      if (JSON.stringify(sandboxesAfter) !== JSON.stringify(sandboxesBefore)) {
        // Say which node replaced a sandbox and why (its services log) before failing.
        for (const b of await taskBoxes(c, S)) if (!sandboxesBefore.includes(`${b.sb.Name}@${b.sb.Id}`)) {
          console.log(`${b.sb.Name} was made again on ${b.host.name}:`);
          console.log(execFileSync('sh', ['-c', `grep -i 'services:\\|task' ${b.host.logFile} | tail -30`], { encoding: 'utf8' }));
        }
      }
      assert.equal(sandboxesAfter, sandboxesBefore, 'the same sandboxes');
      assert.equal((await m.client.service(S)).Endpoint?.VirtualIPs, vips, 'the same VIP after the leader restarted');
      cli('service', 'rm', S);
      await eventually(async () => (await taskBoxes(c, S)).length === 0, 30_000, 'no task left');
    } finally {
      await c.destroy();
    }
  });

  test('routing mesh: published TCP and UDP ports answer on every host, also where no task runs; weft run -p (TCP, UDP); removed with the service', async () => {
    const c = await createCluster(3, { tag: `${tag}p`, subnet: 64 });
    const S = `${tag}www`;
    const port = 20000 + (process.pid % 1000);
    const docroot = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-www-`));
    fs.writeFileSync(path.join(docroot, 'index.html'), 'weft-mesh-ok\n');
    try {
      const m = await formSwarm(c);
      await m.client.networkCreate({ Name: `${tag}pnet`, Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.164.0.0/24' }] } });
      // Each task serves HTTP on 80 and a UDP echo on 53; the mesh publishes port (TCP) and port+2 (UDP).
      const both = `${evalCommand(udpEcho(53), []).map((a) => JSON.stringify(a)).join(' ')} & exec busybox httpd -f -p 80 -h ${docroot}`;
      await m.client.serviceCreate({
        Name: S,
        TaskTemplate: { ContainerSpec: { Command: ['sh', '-c', both] }, Networks: [{ Target: `${tag}pnet` }] },
        Mode: { Replicated: { Replicas: 2 } },
        EndpointSpec: {
          Mode: 'dnsrr',
          Ports: [
            { Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' },
            { Protocol: 'udp', TargetPort: 53, PublishedPort: port + 2, PublishMode: 'ingress' },
          ],
        },
      });
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 2, 30_000, '2 running tasks');
      const get = (h: Host) => {
        try {
          return execFileSync('ip', ['netns', 'exec', h.ns, 'curl', '-s', '--max-time', '3', `http://${h.addr}:${port}/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch {
          return '';
        }
      };
      for (const h of c.hosts) await eventually(() => get(h).includes('weft-mesh-ok'), 30_000, `port ${port} on ${h.name}`);
      const taskNames = new Set((await taskBoxes(c, S)).map((b) => b.sb.Name));
      for (const h of c.hosts) {
        await eventually(() => udpAsk(h.ns, h.addr, port + 2, 'ping') !== '', 20_000, `UDP port ${port + 2} on ${h.name}`);
        const r = udpAsk(h.ns, h.addr, port + 2, `hello-${h.name}`);
        const [who, what] = [r.slice(0, r.lastIndexOf(':')), r.slice(r.lastIndexOf(':') + 1)];
        assert.ok(taskNames.has(who), `UDP answered by a task, got ${JSON.stringify(r)}`);
        assert.is(what, `hello-${h.name}`);
      }
      const withTask = new Set((await taskBoxes(c, S)).map((b) => b.host.name));
      assert.ok(c.hosts.some((h) => !withTask.has(h.name)), 'one host runs no task and still answers');

      // weft run -p: a sandbox's port published on its own host only.
      const h2 = c.hosts[1]!;
      const p2 = port + 1;
      await m.client.networkCreate({ Name: `${tag}anet`, Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.165.0.0/24' }] } });
      await h2.client.sandboxCreate({ Name: `${tag}-pub`, Networks: [{ Name: `${tag}anet` }], Cmd: ['busybox', 'httpd', '-f', '-p', '80', '-h', docroot], Ports: [{ HostPort: p2, ContainerPort: 80 }] });
      const getP2 = (h: Host) => {
        try {
          return execFileSync('ip', ['netns', 'exec', h.ns, 'curl', '-s', '--max-time', '3', `http://${h.addr}:${p2}/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch {
          return '';
        }
      };
      await eventually(() => getP2(h2).includes('weft-mesh-ok'), 15_000, `-p ${p2} on ${h2.name}`);
      assert.is(getP2(c.hosts[0]!), '', '-p publishes on the sandbox host only');
      assert.match(await h2.client.sandboxCreate({ Name: `${tag}-pub2`, Ports: [{ HostPort: p2, ContainerPort: 80 }] }).then(() => '(no error)', (e: Error) => e.message), /already in use/);
      // weft run -p HOST_PORT:PORT/udp (CLI): a UDP echo in a sandbox, published on its host.
      const p3 = port + 3;
      weftCli(h2, ['run', '-d', '--name', `${tag}-udp`, '--network', `${tag}anet`, '-p', `${p3}:5353/udp`, '--', ...evalCommand(udpEcho(5353), [])]);
      await eventually(() => udpAsk(h2.ns, h2.addr, p3, 'u1') === `${tag}-udp:u1`, 15_000, `-p ${p3}/udp on ${h2.name}`);
      assert.is(udpAsk(c.hosts[0]!.ns, h2.addr, p3, 'from-h1'), `${tag}-udp:from-h1`, 'another client (another host) gets its own session');
      await h2.client.sandboxRemove(`${tag}-udp`, true);
      assert.is(udpAsk(h2.ns, h2.addr, p3, 'u2'), '', 'UDP closed with the sandbox');
      await h2.client.sandboxRemove(`${tag}-pub`, true);
      assert.is(getP2(h2), '', 'closed with the sandbox');
      await m.client.serviceRemove(S);
      for (const h of c.hosts) await eventually(() => get(h) === '', 30_000, `port ${port} closed on ${h.name}`);
      for (const h of c.hosts) await eventually(() => udpAsk(h.ns, h.addr, port + 2, 'x') === '', 30_000, `UDP port ${port + 2} closed on ${h.name}`);
      await eventually(async () => (await Promise.all(c.hosts.map((h) => h.client.sandboxes()))).flat().length === 0, 30_000, 'no task or mesh helper left');
    } finally {
      await c.destroy();
      fs.rmSync(docroot, { recursive: true, force: true });
    }
  });

  test('walkthrough: 5 replicas, --publish 8080:80 on every node over the ingress network, VIP load-balanced, tasks.S, network-add/rm (CLI)', async () => {
    const c = await createCluster(3, { tag: `${tag}w`, subnet: 68 });
    const S = `${tag}web`;
    const A = `${tag}wa`;
    const B = `${tag}wb`;
    const docroot = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-walk-`));
    try {
      const m = await formSwarm(c);
      const cli = (h: Host, ...args: string[]) => weftCli(h, args);
      /** A CLI call expected to fail: its stderr (or "(no error)"). */
      const cliErr = (h: Host, ...args: string[]) => {
        try {
          cli(h, ...args);
          return '(no error)';
        } catch (e) {
          return String((e as { stderr?: string }).stderr ?? e);
        }
      };
      cli(m, 'network', 'create', '-d', 'overlay', '--attachable', '--subnet', '10.168.0.0/24', A);
      cli(m, 'network', 'create', '-d', 'overlay', '--attachable', '--subnet', '10.168.1.0/24', B);
      // Each task serves its own name (the sandbox's /etc/hostname), so answers say who answered.
      const serve = `d=${docroot}/$(cat /etc/hostname); mkdir -p $d; cat /etc/hostname > $d/index.html; exec busybox httpd -f -p 80 -h $d`;
      cli(m, 'service', 'create', '--name', S, '--replicas', '5', '--network', A, '--publish', 'published=8080,target=80', '--', 'sh', '-c', serve);
      await eventually(() => /5\/5/.test(cli(m, 'service', 'ls')), 45_000, 'service ls shows 5/5');
      const boxes = await taskBoxes(c, S);
      assert.equal(boxes.length, 5);
      assert.equal(new Set(boxes.map((b) => b.host.name)).size, 3, 'spread over the 3 hosts');
      const names = new Set(boxes.map((b) => b.sb.Name));

      // The ingress network: made by the leader for the published port (overlay, swarm scope, Ingress, not
      // attachable, a subnet of the default pool), listed by `network ls`; every task has an address on it,
      // after its own network (which stays its DNS network).
      const ing = await m.client.network('ingress');
      assert.equal([ing.Driver, ing.Scope, ing.Ingress, ing.Attachable], ['overlay', 'swarm', true, false]);
      const ingSubnet = ing.IPAM.Config[0]?.Subnet ?? '';
      assert.match(ingSubnet, /^10\.\d+\.\d+\.0\/24$/);
      assert.match(cli(m, 'network', 'ls'), new RegExp(`${ing.Id.slice(0, 12)}\\s+ingress\\s+overlay\\s+swarm`), 'network ls shows ingress');
      const ingPrefix = ingSubnet.split('.').slice(0, 3).join('.') + '.';
      for (const b of boxes) {
        assert.ok(ipIn(b.sb, 'ingress').startsWith(ingPrefix), `${b.sb.Name} has an address on ingress (${ingSubnet}): ${JSON.stringify(b.sb.Networks)}`);
        assert.equal(Object.keys(b.sb.Networks), [A, 'ingress'], 'its own network first, ingress last');
      }
      const netAGw = (await m.client.network(A)).IPAM.Config[0]!.Gateway;
      assert.match(c.inSandbox(boxes[0]!.sb.Name, ['cat', '/etc/resolv.conf']).out, new RegExp(`nameserver ${netAGw}\\b`), "the task's DNS is its own network's, not ingress's");
      // Refusals, with Docker's kind of message: no manual attachment, no removal while a service publishes.
      assert.match(cliErr(c.hosts[1]!, 'run', '-d', '--name', `${tag}-ing`, '--network', 'ingress', '--', 'sleep', '60'), /Could not attach to network ingress: .*not manually attachable/);
      assert.match(cliErr(c.hosts[2]!, 'network', 'rm', 'ingress'), new RegExp(`ingress network cannot be removed because service ${S} depends on it`));

      // Every node's 8080 answers, requests are spread over the tasks.
      const curl = (h: Host) => {
        try {
          return execFileSync('ip', ['netns', 'exec', h.ns, 'curl', '-s', '--max-time', '3', `http://${h.addr}:8080/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
        } catch {
          return '';
        }
      };
      for (const h of c.hosts) await eventually(() => names.has(curl(h)), 30_000, `port 8080 on ${h.name}`);
      const meshSeen = new Set<string>();
      for (let i = 0; i < 8; i++) for (const h of c.hosts) meshSeen.add(curl(h));
      assert.ok([...meshSeen].every((x) => names.has(x)), `only tasks answer: ${[...meshSeen]}`);
      assert.ok(meshSeen.size >= 4, `the mesh spreads requests: ${meshSeen.size} distinct tasks answered`);

      // The VIP: in service inspect, what the name resolves to, and load-balanced from another sandbox.
      const insp = JSON.parse(cli(m, 'service', 'inspect', S)) as { Endpoint: { VirtualIPs: { NetworkID: string; Addr: string }[] } }[];
      const netA = await m.client.network(A);
      const vips = insp[0]!.Endpoint.VirtualIPs;
      assert.equal(vips.map((v) => v.NetworkID), [netA.Id, ing.Id], 'a VIP on its network and one on ingress (as Docker)');
      const vip = vips[0]!.Addr.split('/')[0]!;
      assert.match(vips[0]!.Addr, /^10\.168\.0\.\d+\/24$/);
      assert.ok(vips[1]!.Addr.startsWith(ingPrefix), `the ingress VIP is in ${ingSubnet}: ${vips[1]!.Addr}`);
      const h2 = c.hosts[1]!;
      cli(h2, 'run', '-d', '--name', `${tag}-ca`, '--network', A, '--', 'sleep', '3600');
      assert.match(cliErr(h2, 'network', 'connect', 'ingress', `${tag}-ca`), /Could not attach to network ingress: .*not manually attachable/);
      const taskIps = boxes.map((b) => ipIn(b.sb, A));
      assert.not.ok(taskIps.includes(vip), 'the VIP is no task address');
      await eventually(() => same(dig(c, `${tag}-ca`, S), [vip]), 15_000, `${S} → VIP ${vip}`);
      await eventually(() => same(dig(c, `${tag}-ca`, `tasks.${S}`), taskIps), 15_000, `tasks.${S} → the 5 task IPs`);
      const wget = (sb: string, url: string) => {
        const r = c.inSandbox(sb, ['curl', '-s', '--max-time', '3', url], 8000);
        return r.code === 0 ? r.out.trim() : '';
      };
      await eventually(() => names.has(wget(`${tag}-ca`, `http://${vip}/`)), 15_000, `VIP ${vip}:80 answers`);
      const vipSeen = new Set<string>();
      for (let i = 0; i < 15; i++) vipSeen.add(wget(`${tag}-ca`, `http://${S}:80/`));
      assert.ok([...vipSeen].every((x) => names.has(x)), `only tasks answer on the VIP: ${[...vipSeen]}`);
      assert.ok(vipSeen.size >= 3, `the VIP spreads connections: ${vipSeen.size} distinct tasks answered`);

      // A removed task leaves the balancing within a couple of seconds (scale 5 → 4).
      cli(m, 'service', 'update', '--replicas', '4', S);
      await eventually(async () => (await taskBoxes(c, S)).length === 4, 20_000, '4 tasks');
      const four = new Set((await taskBoxes(c, S)).map((b) => b.sb.Name));
      await new Promise((r) => setTimeout(r, 2000));
      for (let i = 0; i < 10; i++) {
        const who = wget(`${tag}-ca`, `http://${vip}/`);
        assert.ok(four.has(who), `request ${i} reached ${JSON.stringify(who)}, not one of the 4 remaining tasks`);
      }

      // network-add B, network-rm A: the tasks move; reachable and resolvable on B, gone from A.
      cli(m, 'service', 'update', '--network-add', B, '--network-rm', A, S);
      const netB = await m.client.network(B);
      await eventually(async () => {
        const now = await taskBoxes(c, S);
        return now.length === 4 && now.every((b) => b.sb.State === 'running' && b.sb.Networks[B] !== undefined && b.sb.Networks[A] === undefined);
      }, 45_000, 'the tasks moved to B');
      const moved = await taskBoxes(c, S);
      const movedNames = new Set(moved.map((b) => b.sb.Name));
      const vipB = (await m.client.service(S)).Endpoint!.VirtualIPs!;
      assert.equal(vipB.map((v) => v.NetworkID), [netB.Id, ing.Id], 'the VIP moved with the service (ingress kept)');
      const vb = vipB[0]!.Addr.split('/')[0]!;
      cli(c.hosts[2]!, 'run', '-d', '--name', `${tag}-cb`, '--network', B, '--', 'sleep', '3600');
      await eventually(() => same(dig(c, `${tag}-cb`, `tasks.${S}`), moved.map((b) => ipIn(b.sb, B))), 15_000, `tasks.${S} on B`);
      await eventually(() => same(dig(c, `${tag}-cb`, S), [vb]), 15_000, `${S} → VIP on B`);
      await eventually(() => movedNames.has(wget(`${tag}-cb`, `http://${S}/`)), 15_000, `${S}:80 reachable on B`);
      await eventually(() => dig(c, `${tag}-ca`, S).length === 0 && dig(c, `${tag}-ca`, `tasks.${S}`).length === 0, 15_000, `${S} gone from A`);
      assert.is(wget(`${tag}-ca`, `http://${vip}/`), '', 'the old VIP answers no more on A');
      for (const h of c.hosts) await eventually(() => movedNames.has(curl(h)), 30_000, `port 8080 on ${h.name} after the move`);

      // No task left: the VIP refuses at once (TCP reset), it does not hang.
      cli(m, 'service', 'scale', `${S}=0`);
      await eventually(async () => (await taskBoxes(c, S)).length === 0, 30_000, 'no task left');
      await eventually(() => {
        const t0 = Date.now();
        const r = c.inSandbox(`${tag}-cb`, ['curl', '-s', '--max-time', '3', `http://${vb}/`], 8000);
        return r.code === 7 && Date.now() - t0 < 1500; // 7: could not connect (refused)
      }, 10_000, `VIP ${vb} with no task refuses at once`);

      // No service publishes any more: ingress stays (as in Docker) and may now be removed.
      cli(m, 'service', 'rm', S);
      await eventually(async () => (await Promise.all(c.hosts.map((h) => h.client.sandboxes()))).flat().every((sb) => sb.Networks.ingress === undefined), 30_000, 'mesh helpers gone');
      assert.match(cli(m, 'network', 'ls'), /\singress\s/, 'ingress kept after the last publishing service');
      await eventually(() => cliErr(m, 'network', 'rm', 'ingress') === '(no error)', 30_000, 'network rm ingress allowed once no service publishes');
      assert.not.match(cli(m, 'network', 'ls'), /\singress\s/);
    } finally {
      await c.destroy();
      fs.rmSync(docroot, { recursive: true, force: true });
    }
  });

  test('stack: web/app/db on frontend/backend; app reaches both, web cannot reach db; stack rm removes everything', async () => {
    const c = await createCluster(3, { tag: `${tag}k`, subnet: 62 });
    const st = `${tag}shop`;
    try {
      const m = await formSwarm(c);
      const compose = `
services:
  web:
    image: nginx
    command: ["sleep", "3600"]
    networks: [frontend]
  app:
    command: sleep 3600
    networks:
      frontend: { aliases: [application] }
      backend: {}
  db:
    command: sleep 3600
    deploy: { replicas: 1, endpoint_mode: dnsrr }
    networks: [backend]
networks:
  frontend:
    driver: overlay
    ipam: { config: [{ subnet: 10.162.1.0/24 }] }
  backend:
    driver: overlay
    driver_opts: { encrypted: "" }
    labels: { tier: data }
    ipam: { config: [{ subnet: 10.162.2.0/24 }] }
`;
      const r = await m.client.stackDeploy({ Name: st, ComposeFiles: [compose] });
      assert.equal([...r.Services].sort(), [`${st}_app`, `${st}_db`, `${st}_web`]);
      assert.equal([...r.Networks].sort(), [`${st}_backend`, `${st}_frontend`]);
      assert.match((r.Warnings ?? []).join('\n'), /image "nginx" is not run/);
      assert.equal(await m.client.stacks(), [{ Name: st, Services: 3, Networks: 2 }]);
      const backend = await m.client.network(`${st}_backend`);
      assert.ok(backend.Encrypted, 'driver_opts encrypted → an encrypted overlay');
      assert.equal([backend.Labels.tier, backend.Labels['com.docker.stack.namespace']], ['data', st]);
      const one = async (svc: string) => {
        const b = await taskBoxes(c, `${st}_${svc}`);
        return b.length === 1 && b[0]!.sb.State === 'running' ? b[0]! : undefined;
      };
      await eventually(async () => (await one('web')) !== undefined && (await one('app')) !== undefined && (await one('db')) !== undefined, 30_000, 'three stack tasks running').catch(async (e) => {
        console.log('stack tasks (name, node, desired, state, error):', JSON.stringify((await m.client.tasks({ label: [`com.docker.stack.namespace=${st}`] })).map((t) => [t.Name, t.NodeID, t.DesiredState, t.Status.State, t.Status.Err]), null, 0));
        for (const h of c.hosts) console.log(h.name, (await h.client.sandboxes()).map((b) => `${b.Name}:${b.State}`).join(' '));
        throw e;
      });
      const web = (await one('web'))!;
      const app = (await one('app'))!;
      const db = (await one('db'))!;
      const webIp = ipIn(web.sb, `${st}_frontend`);
      const dbIp = ipIn(db.sb, `${st}_backend`);
      await eventually(() => pings(c, app.sb.Name, webIp), 15_000, `app → web ${webIp}`);
      await eventually(() => pings(c, app.sb.Name, dbIp), 15_000, `app → db ${dbIp}`);
      // By name too: the short service name is an alias on the stack's networks. The sandbox's
      // resolv.conf names its first network's (frontend's) gateway; as Docker's embedded DNS, it
      // answers app with the names of all of app's networks, so db (backend only) resolves too.
      // web is in endpoint mode vip (the default): its name is its VIP on frontend.
      const webVip = (await m.client.service(`${st}_web`)).Endpoint!.VirtualIPs!.map((v) => v.Addr.split('/')[0]!);
      assert.equal(webVip.length, 1);
      await eventually(() => same(dig(c, app.sb.Name, 'web'), webVip), 15_000, 'app resolves web (its VIP)');
      await eventually(() => same(dig(c, app.sb.Name, `tasks.${st}_web`), [webIp]), 15_000, 'app resolves tasks.web');
      await eventually(() => same(dig(c, app.sb.Name, 'db'), [dbIp]), 15_000, 'app resolves db (a backend name, asked of its frontend resolver)');
      await eventually(() => same(dig(c, app.sb.Name, `tasks.${st}_db`), [dbIp]), 15_000, 'app resolves tasks.db');
      assert.not.ok(pings(c, web.sb.Name, dbIp), 'web must not reach db (different network)');
      assert.equal(dig(c, web.sb.Name, 'db'), [], 'web cannot resolve db');
      const tasks = await m.client.tasks({ label: [`com.docker.stack.namespace=${st}`] });
      assert.equal(tasks.filter((t) => t.DesiredState === 'running').length, 3);

      await m.client.stackRemove(st);
      await eventually(async () => (await Promise.all(['web', 'app', 'db'].map((s) => taskBoxes(c, `${st}_${s}`)))).every((b) => b.length === 0), 30_000, 'stack tasks gone');
      assert.equal((await m.client.networks()).filter((n) => n.Name.startsWith(`${st}_`)).map((n) => n.Name), []);
      assert.equal(await m.client.stacks(), []);
    } finally {
      await c.destroy();
    }
  });
}

test.run();
