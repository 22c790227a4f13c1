/**
 * End-to-end: services over IPv6 on dual-stack networks (issue #22), two real agents in host
 * namespaces. Root only. A replicated service on two dual-stack overlays (one on the kernel data
 * path, one on the userspace switch) gets an IPv4 and an IPv6 VIP on each (`service inspect`);
 * from a sandbox on the other host, AAAA of the service is its IPv6 VIP, `tasks.S` AAAA every
 * task's IPv6 address, PTR of the VIP the service; TCP over IPv6 to the VIP is balanced over both
 * replicas (ip6tables DNAT in the client's namespace); the routing mesh (a dual-stack ingress
 * network) and `weft run -p [::]:P:80` answer on the hosts' IPv6 addresses; IPv4 keeps working.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cliCommand, createCluster, eventually, formSwarm, type Cluster, type Host } from '@weft/testing/cluster';

const root = process.getuid?.() === 0;
const tag = `s6${process.pid % 1000}`;
const SUB = 126;
/** The IPv6 address each host's underlay link gets for clients (not for VXLAN: the underlay stays IPv4). */
const v6Of = (i: number) => `fd18:${SUB}::${i}`;

const dig = (c: Cluster, from: string, args: string[]) =>
  c.inSandbox(from, ['dig', '+short', '+tries=1', '+time=2', ...args]).out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';')).sort();
const same = (a: readonly string[], b: readonly string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
/** The page of the HTTP stand-in ("Served by NAME"), fetched from a sandbox; '' on failure. */
const served = (c: Cluster, from: string, url: string, extra: string[] = []): string => {
  const r = c.inSandbox(from, ['curl', '-s', '-g', '--max-time', '3', ...extra, url], 8000);
  return r.code === 0 ? (/Served by (\S+)/.exec(r.out)?.[1] ?? '') : '';
};
/** The same page fetched from a host's own namespace (a client of a published port); '' on failure. */
const fromHost = (h: Host, url: string): string => {
  try {
    const out = execFileSync('ip', ['netns', 'exec', h.ns, 'curl', '-s', '-g', '--max-time', '3', url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /Served by (\S+)/.exec(out)?.[1] ?? '';
  } catch {
    return '';
  }
};
/** `weft -H <host's socket> ARGS`: exit status and stderr. */
const weftCli = (h: Host, args: readonly string[]): { code: number; err: string } => {
  const [cmd, ...pre] = cliCommand();
  try {
    execFileSync(cmd as string, [...pre, '-H', `unix://${h.socket}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, err: '' };
  } catch (e) {
    const x = e as { status?: number; stderr?: string };
    return { code: x.status ?? -1, err: x.stderr ?? '' };
  }
};

if (!root) {
  test('services over IPv6 end-to-end (skipped: needs root for network namespaces)', () => console.log('  skipped: run as root'));
} else {
  test('dual-stack services: IPv4 + IPv6 VIPs, AAAA of S and tasks.S, v6 PTR, TCP over IPv6 to the VIP balanced on both data paths, published ports and the mesh over IPv6, IPv4 still works', async () => {
    const c = await createCluster(2, { tag, subnet: SUB });
    const S = `${tag}web`;
    const port = 21000 + (process.pid % 1000);
    try {
      const m = await formSwarm(c);
      const [h1, h2] = c.hosts as [Host, Host];
      // Client-side IPv6 on the hosts' links (the overlay's underlay stays IPv4).
      c.hosts.forEach((h, i) => execFileSync('ip', ['-n', h.ns, 'addr', 'add', `${v6Of(i + 1)}/64`, 'dev', 'ul0', 'nodad']));

      // Two dual-stack overlays, one per data path, and a dual-stack ingress network of our own.
      const nets = [
        { name: `${tag}k`, plane: 'kernel', v4: '10.171.0.0/24', v6: 'fd00:171::/64' },
        { name: `${tag}u`, plane: 'userspace', v4: '10.172.0.0/24', v6: 'fd00:172::/64' },
      ];
      for (const n of nets) {
        await m.client.networkCreate({ Name: n.name, Driver: 'overlay', Attachable: true, EnableIPv6: true, Options: { 'weft.dataplane': n.plane }, IPAM: { Config: [{ Subnet: n.v4 }, { Subnet: n.v6 }] } });
      }
      // The swarm's default ingress (IPv4 only, made at init) gives way to a dual-stack one.
      await m.client.networkRemove('ingress');
      await m.client.networkCreate({ Name: `${tag}in`, Driver: 'overlay', Ingress: true, EnableIPv6: true, IPAM: { Config: [{ Subnet: '10.173.0.0/24' }, { Subnet: 'fd00:173::/64' }] } });
      await m.client.serviceCreate({
        Name: S,
        TaskTemplate: { ContainerSpec: { Command: [], Image: 'nginx' }, Networks: nets.map((n) => ({ Target: n.name, Aliases: [`${tag}alias`] })) },
        Mode: { Replicated: { Replicas: 2 } },
        EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' }] },
      });
      await eventually(async () => (await m.client.service(S)).ServiceStatus?.RunningTasks === 2, 60_000, '2 running tasks');

      // service inspect: an IPv4 and an IPv6 VIP per network (Docker's Endpoint.VirtualIPs), ingress included.
      const svc = await m.client.service(S);
      const byNet = new Map<string, string[]>();
      for (const v of svc.Endpoint?.VirtualIPs ?? []) byNet.set(v.NetworkID, [...(byNet.get(v.NetworkID) ?? []), v.Addr]);
      const ids = new Map((await m.client.networks()).map((n) => [n.Name, n.Id]));
      const vips = new Map<string, { v4: string; v6: string }>();
      for (const n of [...nets.map((x) => x.name), `${tag}in`]) {
        const addrs = byNet.get(ids.get(n)!) ?? [];
        assert.is(addrs.length, 2, `two VIPs on ${n}: ${JSON.stringify(svc.Endpoint?.VirtualIPs)}`);
        assert.match(addrs[0]!, /^10\.17\d\.0\.\d+\/24$/);
        assert.match(addrs[1]!, /^fd00:17\d::[0-9a-f]+\/64$/);
        vips.set(n, { v4: addrs[0]!.split('/')[0]!, v6: addrs[1]!.split('/')[0]! });
      }
      const tasks = (await Promise.all(c.hosts.map((h) => h.client.sandboxes()))).flat().filter((b) => b.Name.startsWith(`${S}.`));
      assert.is(tasks.length, 2);
      assert.is(new Set(tasks.map((t) => t.Hostname)).size, 2);

      for (const n of nets) {
        const vip = vips.get(n.name)!;
        // A client on the other host than the leader's first task: h2 (both hosts run a task; spread).
        const client = `${tag}-c${n.plane[0]}`;
        await h2.client.sandboxCreate({ Name: client, Networks: [{ Name: n.name }] });
        const v6tasks = tasks.map((t) => t.Networks[n.name]!.GlobalIPv6Address!.split('/')[0]!);
        const v4tasks = tasks.map((t) => t.Networks[n.name]!.IPAddress.split('/')[0]!);
        assert.ok(v6tasks.every((a) => a.startsWith(n.v6.split('::')[0]!)), `tasks have IPv6 addresses on ${n.name}: ${v6tasks}`);

        // DNS: AAAA of S (and its alias) is the IPv6 VIP; A the IPv4 one; tasks.S AAAA every task; PTR.
        await eventually(() => same(dig(c, client, ['AAAA', S]), [vip.v6]), 20_000, `${n.plane}: AAAA ${S} → ${vip.v6} (got ${dig(c, client, ['AAAA', S])})`);
        assert.equal(dig(c, client, ['AAAA', `${tag}alias`]), [vip.v6], 'AAAA of the service alias');
        assert.equal(dig(c, client, ['A', S]), [vip.v4], 'A of the service: the IPv4 VIP');
        await eventually(() => same(dig(c, client, ['AAAA', `tasks.${S}`]), v6tasks), 20_000, `${n.plane}: AAAA tasks.${S} → ${v6tasks}`);
        assert.ok(dig(c, client, ['-x', vip.v6]).some((l) => l.startsWith(S)), `PTR of the IPv6 VIP: ${dig(c, client, ['-x', vip.v6])}`);

        // TCP over IPv6 to the VIP (and by name with -6), balanced over both replicas; IPv4 too.
        await eventually(() => served(c, client, `http://[${vip.v6}]/`) !== '', 30_000, `${n.plane}: HTTP over IPv6 to the VIP [${vip.v6}]`);
        const seen6 = new Set<string>();
        for (let i = 0; i < 40 && seen6.size < 2; i++) seen6.add(served(c, client, `http://[${vip.v6}]/`));
        seen6.delete('');
        assert.equal([...seen6].sort(), tasks.map((t) => t.Hostname).sort(), `${n.plane}: the IPv6 VIP spreads over both replicas`);
        assert.ok(served(c, client, `http://${S}/`, ['-6']) !== '', 'by name over IPv6 (curl -6)');
        assert.match(c.inSandbox(client, ['ip6tables', '-t', 'nat', '-S', 'WEFT-VIP']).out, new RegExp(`-d ${vip.v6}/128 .*-j DNAT --to-destination (${v6tasks.join('|')})`), 'ip6tables DNAT in the client');
        await eventually(() => served(c, client, `http://${vip.v4}/`) !== '', 20_000, `${n.plane}: HTTP over IPv4 to the VIP ${vip.v4}`);
        assert.ok(served(c, client, `http://${S}/`, ['-4']) !== '', 'by name over IPv4 (curl -4)');
        for (const a of v4tasks) assert.is(c.inSandbox(client, ['ping', '-4', '-c', '1', '-W', '2', a]).code, 0, `ping ${a}`);
      }

      // The routing mesh over IPv6: the published port answers on both hosts' IPv6 addresses (and IPv4).
      for (const [i, h] of c.hosts.entries()) {
        await eventually(() => fromHost(c.hosts[1 - i]!, `http://[${v6Of(i + 1)}]:${port}/`) !== '', 30_000, `mesh port ${port} on ${h.name} over IPv6`);
        await eventually(() => fromHost(c.hosts[1 - i]!, `http://${h.addr}:${port}/`) !== '', 30_000, `mesh port ${port} on ${h.name} over IPv4`);
      }

      // weft run -p [::]:P:80: IPv6 only, as Docker; -p P:80 (0.0.0.0): both families.
      const p6 = port + 1;
      const p46 = port + 2;
      await h1.client.sandboxCreate({ Name: `${tag}-pub6`, Image: 'nginx', Networks: [{ Name: nets[0]!.name }], Ports: [{ HostIP: '::', HostPort: p6, ContainerPort: 80 }] });
      await h1.client.sandboxCreate({ Name: `${tag}-pub46`, Image: 'nginx', Networks: [{ Name: nets[1]!.name }], Ports: [{ HostPort: p46, ContainerPort: 80 }] });
      await eventually(() => fromHost(h2, `http://[${v6Of(1)}]:${p6}/`) === `${tag}-pub6`, 20_000, `-p [::]:${p6}:80 over IPv6`);
      assert.is(fromHost(h2, `http://${h1.addr}:${p6}/`), '', '-p [::]:P is not published on IPv4');
      await eventually(() => fromHost(h2, `http://[${v6Of(1)}]:${p46}/`) === `${tag}-pub46`, 20_000, `-p ${p46}:80 over IPv6`);
      assert.is(fromHost(h2, `http://${h1.addr}:${p46}/`), `${tag}-pub46`, `-p ${p46}:80 over IPv4`);
      // Malformed IPv6 -p values: a clear error and exit 125, as Docker's CLI; nothing made.
      for (const bad of ['[::1:80', '[::]:x:80', '::1:8080:80']) {
        const r = weftCli(h1, ['run', '-d', '--name', `${tag}-bad`, '--network', nets[0]!.name, '-p', bad, 'nginx']);
        assert.is(r.code, 125, `-p ${bad}: exit 125 (${r.err})`);
        assert.match(r.err, /invalid argument .* for --publish/);
      }
      assert.not.ok((await h1.client.sandboxes()).some((b) => b.Name === `${tag}-bad`), 'no sandbox from a bad -p');

      await m.client.serviceRemove(S);
      await eventually(async () => (await Promise.all(c.hosts.map((h) => h.client.sandboxes()))).flat().filter((b) => b.Name.startsWith(`${S}.`)).length === 0, 30_000, 'tasks removed');
    } finally {
      await c.destroy();
    }
  });
}

test.run();
