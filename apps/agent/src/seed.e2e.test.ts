/**
 * The seed, command for command: Docker's overlay networking guides ("Networking with overlay
 * networks" and "Overlay network driver", docs.docker.com) replayed with their own commands, only
 * `docker` replaced by `weft`, container and network names as in the text, each step's visible
 * result checked as the text states it. Real agents, one per host namespace; the `weft` binary
 * (bin/weft.js) on each host's socket; `run -it` on a real pseudo-terminal (util-linux `script`).
 * Root only.
 *
 * The agents name their sandboxes' namespaces with a prefix (`--netns-prefix`), so the guide's
 * names (alpine1, ...) meet no other test's namespaces on this machine.
 */
import { evalCommand } from '@weft/sys';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliCommand, createCluster, eventually, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `s${process.pid % 1000}`;

/** `weft ARGS` against host `h`: stdout, or throws with stderr. */
function weft(h: Host, ...args: string[]): string {
  return weftEnv({}, h, ...args);
}
function weftEnv(env: Record<string, string>, h: Host, ...args: string[]): string {
  const r = spawnSync(cliCommand()[0]!, [...cliCommand().slice(1), '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`weft ${args.join(' ')} on ${h.name} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
/** `weft ARGS` that must fail: its exit status and stderr. */
function weftFails(h: Host, ...args: string[]): { status: number; err: string } {
  const r = spawnSync(cliCommand()[0]!, [...cliCommand().slice(1), '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.is.not(r.status, 0, `weft ${args.join(' ')} should fail`);
  return { status: r.status ?? -1, err: r.stderr };
}
/** The rows of a `network ls` (NAME → [ID, DRIVER, SCOPE]). */
function networks(h: Host): Map<string, [string, string, string]> {
  const rows = weft(h, 'network', 'ls').trim().split('\n').slice(1);
  return new Map(rows.map((r) => r.split(/\s{2,}/)).map(([id, name, driver, scope]) => [name!, [id!, driver!, scope!]]));
}
/** An HTTP GET of http://ADDR:PORT/ from inside namespace `ns`: the body, or '' when nothing answers. */
function httpGet(ns: string, addr: string, port: number): string {
  const js = `require('http').get({host:${JSON.stringify(addr)},port:${port},timeout:3000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>{process.stdout.write(r.statusCode+' '+b);process.exit(0)})}).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))`;
  try {
    return execFileSync('ip', ['netns', 'exec', ns, ...evalCommand(js, [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return '';
  }
}
/** Endpoints of `net` local to each host (Docker's inspect `Containers`), by sandbox name. */
const containers = (h: Host, net: string) => Object.values((JSON.parse(weft(h, 'network', 'inspect', net)) as { Containers: Record<string, { Name: string }> }[])[0]!.Containers).map((c) => c.Name);

/** `weft ARGS` on a pseudo-terminal (as a person types it): what it prints, what to type, its exit status. */
interface Session {
  type(line: string): void;
  readonly output: () => string;
  readonly exited: Promise<number>;
  readonly child: ChildProcess;
}
function onTerminal(h: Host, ...args: string[]): Session {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [...cliCommand(), '-H', `unix://${h.socket}`, ...args].map(q).join(' ');
  // script(1) gives the command a pseudo-terminal and passes what we write on to it (-e: its exit status).
  const child = spawn('script', ['-q', '-f', '-e', '-c', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  return { type: (line) => void child.stdin!.write(`${line}\n`), output: () => out, exited, child };
}

if (!root) {
  test('seed walkthroughs (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root to include the seed walkthroughs'));
} else {
  test('guide 1, "Use the default overlay network" and "Use a user-defined overlay network": three hosts, nginx-net, my-nginx', async () => {
    const c = await createCluster(3, { tag: `${tag}a`, subnet: 71, nsPrefix: `${tag}a-` });
    const [manager, worker1, worker2] = c.hosts as [Host, Host, Host];
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      // Create the swarm. 1. On manager: docker swarm init --advertise-addr=<IP-ADDRESS-OF-MANAGER>
      const init = weft(manager, 'swarm', 'init', `--advertise-addr=${manager.addr}`);
      assert.match(init, /^Swarm initialized: current node \(\S+\) is now a manager\./);
      const token = /--token (\S+)/.exec(init)![1]!;
      // 2., 3. On worker-1 and worker-2: docker swarm join --token <TOKEN> --advertise-addr <IP> <IP-ADDRESS-OF-MANAGER>:2377
      // (worker-2 also with --listen-addr, which the driver guide names for the control plane port)
      assert.is(weft(worker1, 'swarm', 'join', '--token', token, '--advertise-addr', worker1.addr, `${manager.addr}:2377`), 'This node joined a swarm as a worker.\n');
      assert.is(weft(worker2, 'swarm', 'join', '--token', token, '--advertise-addr', worker2.addr, '--listen-addr', `${worker2.addr}:2377`, `${manager.addr}:2377`), 'This node joined a swarm as a worker.\n');
      // 4. On manager, docker node ls: three nodes, Ready, Active; the manager is the Leader (and "*", this node).
      await eventually(() => weft(manager, 'node', 'ls').split('\n').filter((l) => /\sReady\s+Active/.test(l)).length === 3, 20_000, 'node ls: three nodes Ready Active');
      const ls = weft(manager, 'node', 'ls').trim().split('\n');
      assert.match(ls[0]!, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS/);
      assert.ok(ls.some((l) => /^\S+ \*\s+h1\s+Ready\s+Active\s+Leader/.test(l)), ls.join('\n'));
      // docker node ls --filter role=manager / --filter role=worker
      const managers = weft(manager, 'node', 'ls', '--filter', 'role=manager').trim().split('\n').slice(1);
      assert.equal(managers.map((l) => l.split(/\s+/)[2]), ['h1']);
      const workers = weft(manager, 'node', 'ls', '--filter', 'role=worker').trim().split('\n').slice(1);
      assert.equal(workers.map((l) => l.split(/\s+/)[1]).sort(), ['h2', 'h3']);
      assert.ok(workers.every((l) => /\sReady\s+Active/.test(l) && !/Leader|Reachable/.test(l)));
      // 5. docker network ls on manager, worker-1 and worker-2: each has an overlay network called ingress.
      for (const h of c.hosts) await eventually(() => networks(h).get('ingress')?.[1] === 'overlay' && networks(h).get('ingress')?.[2] === 'swarm', 15_000, `ingress listed on ${h.name}`);

      // Create the services. 1. On manager: docker network create -d overlay nginx-net
      assert.match(weft(manager, 'network', 'create', '-d', 'overlay', 'nginx-net'), /^[0-9a-z]{25}\n$/);
      // 2. docker service create --name my-nginx --publish target=80,published=80 --replicas=5 --network nginx-net nginx
      assert.match(weft(manager, 'service', 'create', '--name', 'my-nginx', '--publish', 'target=80,published=80', '--replicas=5', '--network', 'nginx-net', 'nginx'), /^\S+\n$/);
      // 3. docker service ls: the service comes up.
      await eventually(() => /\smy-nginx\s+replicated\s+5\/5\s+nginx\s/.test(weft(manager, 'service', 'ls')), 60_000, 'service ls: my-nginx 5/5');
      // "if you browse to port 80 on manager, worker-1, or worker-2, you will be connected to port 80 on one of the 5 service tasks"
      for (const h of c.hosts) await eventually(() => /^200 .*Served by my-nginx\.[1-5]\./s.test(httpGet(manager.ns, h.addr, 80)), 20_000, `port 80 on ${h.name} answers from a task`);
      // 4. Inspect nginx-net on every host: Containers lists the tasks there; Peers the other hosts.
      const perHost = c.hosts.map((h) => containers(h, 'nginx-net').filter((n) => n.startsWith('my-nginx.')));
      assert.is(perHost.flat().length, 5, JSON.stringify(perHost));
      assert.ok(perHost.every((l) => l.length > 0), `a task on every host: ${JSON.stringify(perHost)}`);
      // 5. docker service inspect my-nginx: ports and endpoints.
      const svc = (JSON.parse(weft(manager, 'service', 'inspect', 'my-nginx')) as { Endpoint: { Ports: { PublishedPort: number; TargetPort: number }[]; VirtualIPs: unknown[] } }[])[0]!;
      assert.equal(svc.Endpoint.Ports.map((p) => [p.PublishedPort, p.TargetPort]), [[80, 80]]);
      assert.ok(svc.Endpoint.VirtualIPs.length >= 1);
      assert.match(weft(manager, 'service', 'inspect', '--pretty', 'my-nginx'), /PublishedPort = 80/);
      // 6. docker network create -d overlay nginx-net-2; docker service update --network-add nginx-net-2 --network-rm nginx-net my-nginx
      weft(manager, 'network', 'create', '-d', 'overlay', 'nginx-net-2');
      assert.is(weft(manager, 'service', 'update', '--network-add', 'nginx-net-2', '--network-rm', 'nginx-net', 'my-nginx'), 'my-nginx\n');
      // 7. docker service ls: updated; nginx-net has no containers, nginx-net-2 all of them.
      await eventually(() => c.hosts.every((h) => containers(h, 'nginx-net').length === 0), 60_000, 'no container on nginx-net');
      await eventually(() => c.hosts.flatMap((h) => containers(h, 'nginx-net-2').filter((n) => n.startsWith('my-nginx.'))).length === 5, 60_000, 'five tasks on nginx-net-2');
      await eventually(() => /\smy-nginx\s+replicated\s+5\/5\s/.test(weft(manager, 'service', 'ls')), 30_000, 'service ls: 5/5 after the update');
      // 8. docker service rm my-nginx; docker network rm nginx-net nginx-net-2
      assert.is(weft(manager, 'service', 'rm', 'my-nginx'), 'my-nginx\n');
      await eventually(async () => (await Promise.all(c.hosts.map((h) => h.client.sandboxes()))).flat().every((s) => !s.Name.startsWith('my-nginx.')), 30_000, 'tasks gone');
      await eventually(() => {
        try {
          return weft(manager, 'network', 'rm', 'nginx-net', 'nginx-net-2') === 'nginx-net\nnginx-net-2\n';
        } catch {
          return false;
        }
      }, 30_000, 'network rm nginx-net nginx-net-2');
      assert.ok(!networks(manager).has('nginx-net') && !networks(manager).has('nginx-net-2'));

      // "Use a user-defined overlay network": 1. docker network create -d overlay my-overlay
      weft(manager, 'network', 'create', '-d', 'overlay', 'my-overlay');
      // 2. docker service create --name my-nginx --network my-overlay --replicas 1 --publish published=8080,target=80 nginx:latest
      weft(manager, 'service', 'create', '--name', 'my-nginx', '--network', 'my-overlay', '--replicas', '1', '--publish', 'published=8080,target=80', 'nginx:latest');
      await eventually(() => /\smy-nginx\s+replicated\s+1\/1\s+nginx:latest\s/.test(weft(manager, 'service', 'ls')), 60_000, 'my-nginx 1/1');
      // 3. docker network inspect my-overlay: the my-nginx task is in Containers (on the host it runs on).
      await eventually(() => c.hosts.flatMap((h) => containers(h, 'my-overlay')).filter((n) => n.startsWith('my-nginx.1.')).length === 1, 30_000, 'the task on my-overlay');
      await eventually(() => /^200 /.test(httpGet(worker1.ns, worker2.addr, 8080)), 20_000, 'published port 8080 answers on every node');
      // 4. docker service rm my-nginx; docker network rm my-overlay
      weft(manager, 'service', 'rm', 'my-nginx');
      await eventually(() => {
        try {
          return weft(manager, 'network', 'rm', 'my-overlay') === 'my-overlay\n';
        } catch {
          return false;
        }
      }, 30_000, 'network rm my-overlay');

      // docker stack deploy -c: the Compose specification's fragments (an x- anchor merged with <<),
      // interpolation from the environment and .env, extension fields ignored.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-stack-`));
      try {
        fs.writeFileSync(path.join(dir, '.env'), 'REPLICAS=2\nTIER=bronze\n');
        fs.writeFileSync(path.join(dir, 'stack.yml'), [
          'x-defaults: &defaults',
          '  deploy:',
          '    replicas: ${REPLICAS:-1}',
          '    labels: { com.example.tier: "${TIER}" }',
          'services:',
          '  web:',
          '    <<: *defaults',
          '    image: nginx',
          '    x-note: ignored',
          '    ports: ["${PORT:-8081}:80"]',
          '    networks: [front]',
          'networks:',
          '  front: { driver: overlay }',
          'x-ignored: { anything: [1, 2] }',
          '',
        ].join('\n'));
        const out = weftEnv({ TIER: 'gold' }, manager, 'stack', 'deploy', '-c', path.join(dir, 'stack.yml'), 'seed');
        assert.is(out, 'Creating network seed_front\nCreating service seed_web\n');
        await eventually(() => /\sseed_web\s+replicated\s+2\/2\s+nginx\s/.test(weft(manager, 'service', 'ls')), 60_000, 'seed_web 2/2 (replicas from .env)');
        assert.match(weft(manager, 'service', 'ls', '--filter', 'label=com.example.tier=gold', '--format', '{{.Name}}'), /^seed_web\n$/, 'TIER from the environment over .env');
        await eventually(() => /^200 /.test(httpGet(worker2.ns, manager.addr, 8081)), 20_000, 'the stack publishes 8081');
        assert.is(weft(manager, 'stack', 'ls'), 'NAME      SERVICES\nseed      1\n');
        // A malformed file: refused with the path of the bad field, nothing deployed.
        fs.writeFileSync(path.join(dir, 'bad.yml'), 'services:\n  api:\n    image: nginx\n    ports: [{ published: 8082 }]\nnetworks: { back: {} }\n');
        const bad = weftFails(manager, 'stack', 'deploy', '-c', path.join(dir, 'bad.yml'), 'broken');
        assert.match(bad.err, /services\.api\.ports\[0\]/);
        assert.ok(!networks(manager).has('broken_back') && !/broken/.test(weft(manager, 'stack', 'ls')), 'nothing deployed');
        assert.is(weft(manager, 'stack', 'rm', 'seed'), 'Removing stack seed\n');
        await eventually(() => !networks(manager).has('seed_front'), 30_000, 'stack rm removes its network');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } catch (e) {
      for (const h of c.hosts) console.log(`--- ${h.name} log (tail)\n${execFileSync('tail', ['-n', '30', h.logFile], { encoding: 'utf8' })}`);
      throw e;
    } finally {
      await c.destroy();
    }
  });

  test('guide 1, "Use an overlay network for standalone containers" and the driver guide: host1, host2, test-net, alpine1..3', async () => {
    const c = await createCluster(2, { tag: `${tag}b`, subnet: 72, nsPrefix: `${tag}b-` });
    const [host1, host2] = c.hosts as [Host, Host];
    let alpine1: Session | undefined;
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      // 1. a. On host1: docker swarm init — it prints the join command.
      const init = weft(host1, 'swarm', 'init');
      const join = /^\s+weft (swarm join --token \S+ \S+:2377)$/m.exec(init);
      assert.ok(join !== null, init);
      // b. On host2, join as instructed above.
      assert.is(weft(host2, ...join![1]!.split(' ')), 'This node joined a swarm as a worker.\n');
      // "If the node fails to join ... run docker swarm leave --force on host2 ... and try again."
      assert.is(weft(host2, 'swarm', 'leave', '--force'), 'Node left the swarm.\n');
      assert.is(weft(host2, ...join![1]!.split(' ')), 'This node joined a swarm as a worker.\n');
      // (as in Docker, the node it was before leaving stays listed, down/left, until "node rm")
      await eventually(() => /^h2 Ready$/m.test(weft(host1, 'node', 'ls', '--filter', 'role=worker', '--format', '{{.Hostname}} {{.Status}}')), 20_000, 'host2 ready');

      // 2. On host1: docker network create --driver=overlay --attachable test-net → its NETWORK ID.
      const netId = weft(host1, 'network', 'create', '--driver=overlay', '--attachable', 'test-net').trim();
      assert.match(netId, /^[0-9a-z]{25}$/);
      // 3. On host1: docker run -it --name alpine1 --network test-net alpine → a shell prompt.
      alpine1 = onTerminal(host1, 'run', '-it', '--name', 'alpine1', '--network', 'test-net', 'alpine');
      await eventually(() => /# $/m.test(alpine1!.output()), 20_000, 'the alpine1 shell prompt');
      // 4. On host2: docker network ls — test-net does not exist yet; ingress does.
      let nets = networks(host2);
      assert.ok(!nets.has('test-net'), [...nets.keys()].join(' '));
      assert.equal(nets.get('ingress')?.slice(1), ['overlay', 'swarm']);
      // 5. On host2: docker run -dit --name alpine2 --network test-net alpine → the container ID.
      assert.match(weft(host2, 'run', '-dit', '--name', 'alpine2', '--network', 'test-net', 'alpine'), /^[0-9a-f]{64}\n$/);
      // 6. On host2: docker network ls — test-net, with the same NETWORK ID as on host1.
      nets = networks(host2);
      assert.equal(nets.get('test-net'), [netId.slice(0, 12), 'overlay', 'swarm']);
      // -dit: detached and kept running (the shell waits on its open stdin).
      await new Promise((r) => setTimeout(r, 1500));
      assert.match(weft(host2, 'ps', '--filter', 'name=alpine2', '--format', '{{.Names}} {{.Image}} {{.State}}'), /^alpine2 alpine running\n$/);
      // 7. On host1, in alpine1: ping -c 2 alpine2 → 2 packets transmitted, 2 received.
      alpine1.type('ping -c 2 alpine2');
      await eventually(() => /2 packets transmitted, 2 (packets )?received/.test(alpine1!.output()), 20_000, 'alpine1 pings alpine2 by name');
      // On host2: docker run -it --rm --name alpine3 --network test-net alpine; ping -c 2 alpine1; exit
      const alpine3 = onTerminal(host2, 'run', '-it', '--rm', '--name', 'alpine3', '--network', 'test-net', 'alpine');
      await eventually(() => /# $/m.test(alpine3.output()), 20_000, 'the alpine3 shell prompt');
      alpine3.type('ping -c 2 alpine1');
      await eventually(() => /2 packets transmitted, 2 (packets )?received/.test(alpine3.output()), 20_000, 'alpine3 pings alpine1 by name');
      alpine3.type('exit');
      assert.is(await alpine3.exited, 0);
      assert.not.match(weft(host2, 'ps', '-a'), /alpine3/, '--rm removed alpine3');
      // 8. On host1, close the alpine1 session (which also stops the container).
      alpine1.type('exit');
      assert.is(await alpine1.exited, 0);
      assert.not.match(weft(host1, 'ps'), /alpine1/);
      assert.match(weft(host1, 'ps', '-a', '--filter', 'name=alpine1', '--format', '{{.Status}}'), /^Exited \(0\)/);
      // 9. Clean up. On host2: docker container stop alpine2; docker network ls (test-net gone); docker container rm alpine2.
      assert.is(weft(host2, 'container', 'stop', 'alpine2'), 'alpine2\n');
      nets = networks(host2);
      assert.ok(!nets.has('test-net') && nets.has('ingress'), `test-net disappears with its last sandbox on host2: ${[...nets.keys()].join(' ')}`);
      // (Starting alpine2 again brings test-net back; stopping it takes it away again.)
      assert.is(weft(host2, 'container', 'start', 'alpine2'), 'alpine2\n');
      assert.equal(networks(host2).get('test-net')?.[0], netId.slice(0, 12));
      weft(host2, 'stop', 'alpine2');
      assert.ok(!networks(host2).has('test-net'));
      assert.is(weft(host2, 'container', 'rm', 'alpine2'), 'alpine2\n');
      // On host1: docker container rm alpine1; docker network rm test-net
      assert.is(weft(host1, 'container', 'rm', 'alpine1'), 'alpine1\n');
      assert.is(weft(host1, 'network', 'rm', 'test-net'), 'test-net\n');
      assert.ok(!networks(host1).has('test-net'));

      // The driver guide: docker network create -d overlay --attachable my-attachable-overlay
      weft(host1, 'network', 'create', '-d', 'overlay', '--attachable', 'my-attachable-overlay');
      // docker network create --opt encrypted --driver overlay --attachable my-attachable-multi-host-network
      weft(host1, 'network', 'create', '--opt', 'encrypted', '--driver', 'overlay', '--attachable', 'my-attachable-multi-host-network');
      assert.match(weft(host1, 'network', 'inspect', '-f', '{{.Encrypted}} {{.Attachable}}', 'my-attachable-multi-host-network'), /^true true\n$/);
      // docker run --network multi-host-network busybox sh (no -i: sh reads nothing and exits 0; a generated name)
      assert.is(weft(host2, 'run', '--network', 'my-attachable-multi-host-network', 'busybox', 'sh'), '');
      const gone = weft(host2, 'ps', '-a', '--filter', 'ancestor=busybox', '--format', '{{.Names}} {{.Status}}');
      assert.match(gone, /^[a-z]+_[a-z]+\d* Exited \(0\)/);
      // Docker's exit statuses: a bad flag of run is 125; a missing network is an error of run (125) too.
      assert.is(weftFails(host2, 'run', '--bogus', 'alpine').status, 125);
      assert.is(weftFails(host2, 'run', '-d', '--name', 'x1', '--network', 'no-such-net', 'alpine').status, 125);
      // docker swarm leave --force, on both.
      weft(host2, 'rm', gone.split(' ')[0]!);
      assert.is(weft(host2, 'swarm', 'leave', '--force'), 'Node left the swarm.\n');
    } catch (e) {
      console.log('alpine1 terminal:', JSON.stringify(alpine1?.output() ?? ''));
      for (const h of c.hosts) console.log(`--- ${h.name} log (tail)\n${execFileSync('tail', ['-n', '30', h.logFile], { encoding: 'utf8' })}`);
      throw e;
    } finally {
      if (alpine1 !== undefined && alpine1.child.exitCode === null) alpine1.child.kill('SIGKILL');
      await c.destroy();
    }
  });

  test('names that exist are never "not found": 50 first sandboxes of a network on a host ping a remote name at once; a miss is NXDOMAIN', async () => {
    const c = await createCluster(2, { tag: `${tag}n`, subnet: 74, nsPrefix: `${tag}n-` });
    const [h1, h2] = c.hosts as [Host, Host];
    try {
      await Promise.all(c.hosts.map((h) => c.startAgent(h)));
      // The driver guide's ports table: the data path's address is set at init (--data-path-addr).
      const init = weft(h1, 'swarm', 'init', '--advertise-addr', h1.addr, '--data-path-addr', h1.addr);
      assert.match(weft(h1, 'info'), new RegExp(`Data path: +${h1.addr.replace(/\./g, '\\.')}:4789`));
      weft(h2, ...(/^\s+weft (swarm join --token \S+ \S+:2377)$/m.exec(init)![1]!.split(' ')));
      await eventually(() => /^h2 Ready$/m.test(weft(h1, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}')), 20_000, 'h2 ready');
      const failed: string[] = [];
      for (let i = 0; i < 50; i++) {
        const net = `nn${i}`;
        weft(h1, 'network', 'create', '-d', 'overlay', '--attachable', net);
        weft(h1, 'run', '-d', '--name', `far${i}`, '--network', net, 'alpine');
        // h2 has no sandbox on this network: this one is its first, and pings the remote name at once.
        const r = spawnSync(cliCommand()[0]!, [...cliCommand().slice(1), '-H', `unix://${h2.socket}`, 'run', '--rm', '--name', `near${i}`, '--network', net, '--', 'ping', '-c', '1', '-W', '2', `far${i}`], { encoding: 'utf8', timeout: 30_000 });
        if (r.status !== 0) failed.push(`${i}: exit ${r.status} ${r.stdout}${r.stderr}`.trim());
        weft(h1, 'rm', '-f', `far${i}`);
        weft(h1, 'network', 'rm', net);
      }
      assert.equal(failed, [], `${failed.length}/50 failed`);
      // A name that exists nowhere is still NXDOMAIN (after at most one sync of the network, ≤ 300 ms).
      weft(h1, 'network', 'create', '-d', 'overlay', '--attachable', 'nxnet');
      weft(h1, 'run', '-d', '--name', 'nxa', '--network', 'nxnet', 'alpine');
      weft(h2, 'run', '-d', '--name', 'nxb', '--network', 'nxnet', 'alpine');
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 1100)); // past the 1 s freshness: each miss waits for a sync
        const out = c.inSandbox(`${tag}n-nxb`, ['dig', '+tries=1', '+time=2', `nosuch${i}`]).out;
        assert.match(out, /status: NXDOMAIN/, out);
        times.push(Number(/Query time: (\d+) msec/.exec(out)?.[1] ?? NaN));
      }
      times.sort((a, b) => a - b);
      console.log(`  NXDOMAIN for a name that exists nowhere, after a sync: median ${times[5]} ms, max ${times[9]} ms (10 queries)`);
      assert.match(c.inSandbox(`${tag}n-nxb`, ['dig', '+short', '+tries=1', '+time=2', 'nxa']).out, /^10\./, 'the remote name resolves');
    } catch (e) {
      for (const h of c.hosts) console.log(`--- ${h.name} log (tail)\n${execFileSync('tail', ['-n', '30', h.logFile], { encoding: 'utf8' })}`);
      throw e;
    } finally {
      await c.destroy();
    }
  });
}

test.run();
