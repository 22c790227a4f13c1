/**
 * `npm run demo`: Weft's multi-host walkthrough on one machine. Builds three hosts from network
 * namespaces, starts an agent on each, forms a swarm, creates an attachable overlay, runs a sandbox
 * on two hosts and pings across, then removes everything it made. Each step is narrated and
 * checked; the first failure stops the demo with a non-zero exit.
 */
import { createCluster, type Cluster } from '@weft/testing/cluster';

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

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('weft demo: needs root (it creates network namespaces, TAP devices and processes); run it as root: sudo npm run demo\n');
    return 1;
  }
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
      await Promise.all(cluster.hosts.map((h) => cluster.startAgent(h)));
      for (const h of cluster.hosts) say(`${h.name}: agent pid ${h.agent?.pid}, API unix://${h.socket}`);
    });

    const tokens = await step('weft swarm init on h1 (h1 becomes the manager)', async () => {
      const r = await h1.client.swarmInit({});
      say(`cluster ${r.ClusterID}, manager node ${r.NodeID}`);
      say(`worker join token: ${r.WorkerToken.slice(0, 24)}…`);
      return r;
    });

    await step('A join with a wrong secret is refused, with a reason', async () => {
      const bad = `${tokens.WorkerToken.slice(0, tokens.WorkerToken.lastIndexOf('-'))}-aaaaaaaaaaaaaaaaaaaaaaaaaa`;
      try {
        await h3.client.swarmJoin({ JoinToken: bad, RemoteAddrs: [`${h1.addr}:2377`] });
      } catch (e) {
        say(`refused: ${(e as Error).message}`);
        return;
      }
      throw new Error('a join with a wrong token was accepted');
    });

    await step('weft swarm join on h2 and h3 with the worker token', async () => {
      for (const h of [h2, h3]) {
        const r = await h.client.swarmJoin({ JoinToken: tokens.WorkerToken, RemoteAddrs: [`${h1.addr}:2377`] });
        say(`${h.name} joined as ${r.Role} ${r.NodeID}`);
      }
    });

    await step('weft node ls (on the manager): every node ready', async () => {
      let nodes = await h1.client.nodes();
      for (let i = 0; i < 50 && !nodes.every((n) => n.Status === 'ready' && n.Tags.weft === '1'); i++) {
        await new Promise((r) => setTimeout(r, 200));
        nodes = await h1.client.nodes();
      }
      say(['ID                          HOSTNAME  STATUS  AVAILABILITY  MANAGER STATUS  PLATFORM', ...nodes.map((n) => `${n.ID.padEnd(27)} ${n.Name.padEnd(9)} ${n.Status.padEnd(7)} ${n.Availability.padEnd(13)} ${n.ManagerStatus.padEnd(15)} ${n.Platform.OS}/${n.Platform.Arch}`)].join('\n'));
      check(nodes.length === 3 && nodes.every((n) => n.Status === 'ready'), 'not every node is ready');
    });

    await step('weft network create -d overlay --attachable web (on the manager)', async () => {
      const r = await h1.client.networkCreate({ Name: 'web', Driver: 'overlay', Attachable: true });
      say(`network web ${r.Id}`);
    });

    await step('weft run alpine1 on h1 and alpine2 on h2, attached to web', async () => {
      const a = await h1.client.sandboxCreate({ Name: 'alpine1', Networks: [{ Name: 'web' }] });
      const b = await h2.client.sandboxCreate({ Name: 'alpine2', Networks: [{ Name: 'web' }] });
      say(`alpine1 on h1: ${a.Networks.web?.IPAddress} (${a.NetnsPath})`);
      say(`alpine2 on h2: ${b.Networks.web?.IPAddress} (${b.NetnsPath})`);
    });

    await step('From alpine1 (h1), ping alpine2 (h2) across the overlay', async () => {
      const b = await h2.client.sandbox('alpine2');
      const ip = b.Networks.web!.IPAddress.split('/')[0]!;
      let r = cluster.inSandbox('alpine1', ['ping', '-c', '3', '-W', '1', ip]);
      for (let i = 0; i < 10 && r.code !== 0; i++) {
        await new Promise((res) => setTimeout(res, 300));
        r = cluster.inSandbox('alpine1', ['ping', '-c', '3', '-W', '1', ip]);
      }
      say(r.out.trim().split('\n').slice(-2).join('\n'));
      check(r.code === 0, `alpine1 cannot reach alpine2 at ${ip}`);
    });

    await step('weft network inspect web (on h2): the endpoints of every host', async () => {
      const n = await h2.client.network('web');
      say(JSON.stringify({ Name: n.Name, Id: n.Id, Driver: n.Driver, Scope: n.Scope, VNI: n.VNI, MTU: n.MTU, Attachable: n.Attachable, IPAM: n.IPAM.Config, Endpoints: n.Endpoints.map((e) => `${e.Name} ${e.IPv4Address} on ${e.Node}`) }, null, 2));
      check(n.Endpoints.length === 2, `expected 2 endpoints, saw ${n.Endpoints.length}`);
    });

    await step('weft rm alpine1 alpine2; weft network rm web', async () => {
      await h1.client.sandboxRemove('alpine1', true);
      await h2.client.sandboxRemove('alpine2', true);
      await h1.client.networkRemove('web');
      say('removed');
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

process.exit(await main());
