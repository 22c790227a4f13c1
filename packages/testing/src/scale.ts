/**
 * Scale scenarios on real agents (root only), shared by the `soak` tool (long runs) and the root
 * tests (short runs): many endpoints on one host, and many agents in one cluster. They measure and
 * return figures; they throw only when the harness itself fails, so callers assert on the figures.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Sandbox } from '@weft/api';
import { interfaceName } from '@weft/net';
import { createCluster, eventually, type Cluster, type Host } from './cluster.ts';
import { startEtcdCluster, type EtcdCluster } from './etcd.ts';
import { tsModuleCommand } from './runtime.ts';

const CLK_TCK = 100;

/** The agent's resident set (bytes) and CPU time (seconds, user + system), from /proc. */
export function agentUsage(h: Host): { rss: number; cpu: number } {
  const pid = h.agent?.pid;
  if (pid === undefined) throw new Error(`the agent on ${h.name} is not running`);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK;
  return { rss, cpu };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  }));
  return out;
}

/** Starts every agent (`batch` at a time), inits the swarm on the first (on `clusterStore`, an etcd:// URL, when given) and joins the rest; returns join retries. */
async function swarm(c: Cluster, batch = 10, log: (l: string) => void = () => undefined, clusterStore?: string): Promise<number> {
  for (let i = 0; i < c.hosts.length; i += batch) await Promise.all(c.hosts.slice(i, i + batch).map((h) => c.startAgent(h)));
  const [m, ...workers] = c.hosts;
  const init = await m!.client.swarmInit(clusterStore !== undefined ? { ClusterStore: { URL: clusterStore } } : {});
  let retries = 0;
  for (const w of workers) {
    // A join that finds the manager too busy to answer (50 agents starting on 2 cores) is tried
    // again, as an operator would; the retries are reported.
    for (let a = 1; ; a++) {
      try {
        await w.client.swarmJoin({ JoinToken: init.WorkerToken, RemoteAddrs: [`${m!.addr}:2377`] });
        break;
      } catch (e) {
        if (a >= 10 || (e as { code?: string }).code !== 'WEFT_CONTROL_NO_MANAGER') throw new Error(`join of ${w.name} (${retries} joins retried so far): ${(e as Error).message}`);
        retries++;
        log(`join of ${w.name} failed (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, 2000 * a));
      }
    }
    // One join at a time: the next starts once the manager lists this node ready.
    await eventually(async () => (await m!.client.nodes()).some((n) => n.Name === w.name && n.Status === 'ready'), 60_000, `the manager to list ${w.name} ready`, 250);
  }
  return retries;
}

export interface EndpointScaleOptions {
  /** Bare endpoints to attach on host 1. */
  readonly endpoints: number;
  /** How many of them to ping from host 2 (chosen at random). */
  readonly sample: number;
  /** Underlay subnet 198.18.<subnet>.0/24 and a tag for namespace names. */
  readonly subnet: number;
  readonly tag: string;
  /** Concurrent API requests while attaching. Default 4. */
  readonly concurrency?: number;
  /**
   * The swarm's cluster store: `embedded` (the default: the manager's own database) or `etcd`,
   * a 3-member etcd started for the run in the underlay namespace (198.18.<subnet>.201–203).
   */
  readonly clusterStore?: 'embedded' | 'etcd';
  /**
   * The network's `weft.dataplane`. Default `auto` (the kernel's vxlan for this plaintext network)
   * up to 1,023 endpoints, the most a Linux bridge holds; `userspace` above that.
   */
  readonly dataplane?: 'auto' | 'kernel' | 'userspace';
  readonly log?: (line: string) => void;
  /** Called after each attach with how many are attached (progress of the long part). */
  readonly onAttach?: (done: number) => void;
}

export interface EndpointScaleResult {
  readonly endpoints: number;
  readonly clusterStore: 'embedded' | 'etcd';
  /** The data path host 1 used for the network, as `network inspect` reports it. */
  readonly dataplane: string;
  readonly attachSeconds: number;
  readonly attachPerSecond: number;
  /** Attaches per second of each successive 1,000 (the last window may be shorter). */
  readonly attachPerSecondBy1000: readonly number[];
  /** The last 1,000's rate over the first 1,000's (1 = flat in N). */
  readonly lastOverFirst: number;
  /** Agent RSS on host 1 with one endpoint, and with all of them. */
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly rssPerEndpoint: number;
  /** Seconds after the last attach until host 2's endpoints table held them all. */
  readonly replicateSeconds: number;
  /** Endpoints host 2's network view lists (its gossip table, incl. its own probe). */
  readonly remoteEntries: number;
  readonly resolved: number;
  readonly resolveWrong: readonly string[];
  readonly resolveSeconds: number;
  readonly pinged: number;
  readonly pingFailed: readonly string[];
  /** Endpoints whose first echo went unanswered (they count as reached if a retry answered). */
  readonly pingRetried: readonly string[];
  /** Endpoints removed one by one through the API before the cleanup (the sampled ones). */
  readonly removed: number;
  /** Of their devices, how many were still in the endpoints' namespace after their removal (must be 0). */
  readonly removedLeftovers: number;
  /** Endpoint devices (TAPs or veths) left in the hosts after cleanup (must be 0). */
  readonly leftoverTaps: number;
  readonly teardownSeconds: number;
}

/** Resolves `names` (A records) against `server` from inside namespace `ns`, 64 at a time; returns name → first address or ''. */
function resolveIn(ns: string, server: string, names: readonly string[], dir: string): Promise<Record<string, string>> {
  const file = path.join(dir, `names-${ns}.json`);
  fs.writeFileSync(file, JSON.stringify(names));
  const script = `
    import dns from 'node:dns';
    import fs from 'node:fs';
    const names = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
    const r = new dns.promises.Resolver({ timeout: 2000, tries: 3 });
    r.setServers([process.argv[3]]);
    const out = {};
    let next = 0;
    const work = async () => { for (let i = next++; i < names.length; i = next++) {
      try { out[names[i]] = (await r.resolve4(names[i]))[0] ?? ''; } catch { out[names[i]] = ''; }
    } };
    await Promise.all(Array.from({ length: 64 }, work));
    process.stdout.write(JSON.stringify(out));`;
  return new Promise((resolve, reject) => {
    const p = spawn('nsenter', [`--net=/run/netns/${ns}`, ...tsModuleCommand(script, [file, server])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`resolver in ${ns} exited ${code}: ${err.trim()}`));
      else resolve(JSON.parse(out) as Record<string, string>);
    });
  });
}

function countLinks(kind: 'tun' | 'veth', ns?: string): number {
  try {
    // 10,000 links print megabytes: counted by wc in the pipeline, so only a number comes back
    // (a large output read back gave 0 under Deno).
    const ip = ['ip', ...(ns !== undefined ? ['-n', ns] : []), '-o', 'link', 'show', 'type', kind].join(' ');
    const out = execFileSync('bash', ['-c', `set -o pipefail; ${ip} | wc -l`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return Number(out.trim());
  } catch (e) {
    if (ns !== undefined && !fs.existsSync(`/run/netns/${ns}`)) return 0;
    throw new Error(`cannot list ${kind} devices${ns !== undefined ? ` in ${ns}` : ''}: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
  }
}

/**
 * `endpoints` bare endpoints on host 1 of a two-host swarm, in one overlay network; from a real
 * sandbox on host 2, every name is resolved through the embedded DNS and `sample` random
 * endpoints are pinged. Everything is removed at the end, and the TAPs left are counted.
 */
export async function endpointScale(o: EndpointScaleOptions): Promise<EndpointScaleResult> {
  const log = o.log ?? (() => undefined);
  if (!Number.isInteger(o.endpoints) || o.endpoints < 2 || o.endpoints > 60000) throw new Error(`endpoints must be an integer from 2 to 60000, not ${o.endpoints}`);
  if (!Number.isInteger(o.sample) || o.sample < 0 || o.sample > o.endpoints) throw new Error(`sample must be an integer from 0 to ${o.endpoints}, not ${o.sample}`);
  const storeKind = o.clusterStore ?? 'embedded';
  const c = await createCluster(2, { tag: o.tag, subnet: o.subnet });
  const [h1, h2] = c.hosts as [Host, Host];
  // What this run may leave, and nothing another test running beside it (CI runs the Node and
  // Deno suites at once) makes: the kernel path's network namespaces of these two hosts (named
  // after the inode of the host's namespace), and the devices named after this run's sandboxes
  // (`wb<id>N`, the switch's TAPs) and endpoints (`ve<hash>`, the kernel path's veths).
  const kernelNsPrefixes = c.hosts.map((h) => `wfk-${fs.statSync(`/run/netns/${h.ns}`).ino.toString(36)}-`);
  const ownDevices = new Set<string>();
  const own = (s: Sandbox) => {
    for (const i of [0, 1]) ownDevices.add(`wb${s.Id.slice(0, 10)}${i}`);
    // The kernel path's hostIfFor(endpoint ID).
    for (const n of Object.values(s.Networks)) ownDevices.add(interfaceName('ve', n.EndpointID));
  };
  const name = (i: number) => `${o.tag}-e${i}`;
  const probe = `${o.tag}-probe`;
  let bareNs: string | undefined;
  let etcd: EtcdCluster | undefined;
  const deaths: string[] = [];
  let result: Omit<EndpointScaleResult, 'leftoverTaps' | 'teardownSeconds'> | undefined;
  try {
    if (storeKind === 'etcd') {
      // Three members on addresses of the underlay switch: every host reaches them, none shares a
      // namespace with an agent (they still share this machine's cores and disk).
      const addrs = [201, 202, 203].map((i) => `198.18.${o.subnet}.${i}`);
      for (const a of addrs) execFileSync('ip', ['-n', c.underlay, 'addr', 'add', `${a}/24`, 'dev', 'br0']);
      // The members talk to each other over addresses of this one namespace: through its loopback.
      execFileSync('ip', ['-n', c.underlay, 'link', 'set', 'lo', 'up']);
      etcd = await startEtcdCluster({ tag: o.tag, netns: addrs.map((addr) => ({ ns: c.underlay, addr })) });
      log(`etcd: 3 members at ${etcd.url}`);
    }
    await swarm(c, 10, log, etcd?.url);
    // An agent that dies mid-run is reported with how it ended, not as a timeout.
    for (const h of c.hosts) {
      h.agent?.once('exit', (code, signal) => {
        deaths.push(`${h.name} exited (code ${code}, signal ${signal}) at ${new Date().toISOString()}`);
        log(deaths[deaths.length - 1]!);
      });
    }
    await eventually(async () => (await h1.client.nodes()).filter((n) => n.Status === 'ready').length === 2, 30_000, 'two ready nodes');
    const dataplane = o.dataplane ?? (o.endpoints > 1023 ? 'userspace' : 'auto');
    await h1.client.networkCreate({ Name: 'scale', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '10.128.0.0/14' }] }, Options: { 'weft.dataplane': dataplane } });
    const first = await h1.client.sandboxCreate({ Name: name(0), Bare: true, Networks: [{ Name: 'scale' }] });
    bareNs = path.basename(first.NetnsPath);
    own(first);
    const addrs = new Map<string, string>([[name(0), first.Networks['scale']!.IPAddress.split('/')[0]!]]);
    await new Promise((r) => setTimeout(r, 1000));
    const rssBefore = agentUsage(h1).rss;
    log(`attaching ${o.endpoints} bare endpoints on ${h1.name} (agent RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB with one)`);
    const t0 = Date.now();
    let done = 1;
    let windowStart = t0;
    const windows: number[] = [];
    const idx = Array.from({ length: o.endpoints - 1 }, (_, i) => i + 1);
    await pool(idx, o.concurrency ?? 4, async (i) => {
      const s: Sandbox = await h1.client.sandboxCreate({ Name: name(i), Bare: true, Networks: [{ Name: 'scale' }] });
      own(s);
      addrs.set(name(i), s.Networks['scale']!.IPAddress.split('/')[0]!);
      if (++done % 1000 === 0 || done === o.endpoints) {
        const now = Date.now();
        const n = done % 1000 === 0 ? 1000 - (windows.length === 0 ? 1 : 0) : done % 1000;
        windows.push(n / Math.max(0.001, (now - windowStart) / 1000));
        windowStart = now;
        log(`  ${done} attached, ${((now - t0) / 1000).toFixed(1)} s (${windows[windows.length - 1]!.toFixed(1)}/s for these)`);
      }
      o.onAttach?.(done);
    });
    const attachSeconds = (Date.now() - t0) / 1000;
    // A last window shorter than 500 endpoints says little: compare the last full 1,000.
    const full = windows.length > 1 && o.endpoints % 1000 !== 0 && o.endpoints % 1000 < 500 ? windows.slice(0, -1) : windows;
    log(`attached ${o.endpoints} in ${attachSeconds.toFixed(1)} s`);
    // Each endpoint is a TAP on the userspace switch, a veth on the kernel's path: one device each.
    const used = (await h1.client.network('scale')).DataPlane ?? 'unknown';
    const devices = countLinks(used === 'kernel' ? 'veth' : 'tun', bareNs);
    if (devices !== o.endpoints) throw new Error(`${bareNs} holds ${devices} ${used === 'kernel' ? 'veths' : 'TAPs'} (data path ${used}), expected ${o.endpoints}`);
    log(`data path: ${used} (${devices} ${used === 'kernel' ? 'veths' : 'TAPs'})`);
    const rssAfter = agentUsage(h1).rss;
    // The probe: a real sandbox on host 2; its resolver is the network's gateway (embedded DNS).
    const p = await h2.client.sandboxCreate({ Name: probe, Networks: [{ Name: 'scale' }] });
    own(p);
    let remoteEntries = 0;
    await eventually(async () => {
      remoteEntries = (await h2.client.network('scale')).Endpoints.length;
      return remoteEntries >= o.endpoints + 1;
    }, 300_000, `host 2's table to hold ${o.endpoints + 1} endpoints`, 1000);
    const replicateSeconds = (Date.now() - t0) / 1000 - attachSeconds;
    log(`host 2's endpoints table holds ${remoteEntries} entries (${replicateSeconds.toFixed(1)} s after the last attach)`);
    const resolver = fs.readFileSync(p.ResolvConf, 'utf8').match(/nameserver (\S+)/)?.[1] ?? '';
    const names = [...addrs.keys()];
    const t2 = Date.now();
    const got = await resolveIn(probe, resolver, names, c.dir);
    const resolveSeconds = (Date.now() - t2) / 1000;
    const resolveWrong = names.filter((n) => got[n] !== addrs.get(n));
    log(`resolved ${names.length - resolveWrong.length}/${names.length} names from ${probe} on ${h2.name} in ${resolveSeconds.toFixed(1)} s`);
    const picks = [...names].sort(() => Math.random() - 0.5).slice(0, o.sample);
    // One echo each; one that goes unanswered is tried again with three more (reported apart).
    const pingFailed: string[] = [];
    const pingRetried: string[] = [];
    for (const n of picks) {
      if (c.inSandbox(probe, ['ping', '-c', '1', '-W', '2', n]).code === 0) continue;
      pingRetried.push(n);
      if (c.inSandbox(probe, ['ping', '-c', '3', '-i', '0.5', '-W', '2', n]).code !== 0) {
        pingFailed.push(n);
        // What the shared namespace holds for it: which interface has the address, how the
        // kernel would answer the probe from it, the interface's counters and neighbours.
        const a = addrs.get(n) ?? '';
        const from = p.Networks['scale']!.IPAddress.split('/')[0]!;
        const sh = (args: string[]) => {
          const r = spawnSync('ip', args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
          return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
        };
        const owner = sh(['-n', bareNs, '-o', 'addr', 'show', 'to', `${a}/32`]);
        const dev = owner.split(/\s+/)[1] ?? '';
        log(`  ${n} (${a}) unanswered: address ${owner === '' ? 'on no interface' : `on ${dev}`}; route to the probe: ${sh(['-n', bareNs, 'route', 'get', from, 'from', a])}`);
        if (dev !== '') log(`    ${sh(['-n', bareNs, '-s', '-o', 'link', 'show', 'dev', dev]).replace(/\s+/g, ' ')}`);
        log(`    neighbours of the probe: ${sh(['-n', bareNs, 'neigh', 'show', from]).replace(/\n/g, '; ') || 'none'}`);
      }
    }
    log(`pinged ${picks.length - pingFailed.length}/${picks.length} random endpoints by name from ${h2.name} (${pingRetried.length} needed a second try)`);
    // The sampled endpoints removed through the API, as a user would: each takes its device with
    // it (the cleanup below deletes whole namespaces, which would hide a device the agent forgot).
    for (const n of picks) await h1.client.sandboxRemove(n, true);
    const removedLeftovers = countLinks(used === 'kernel' ? 'veth' : 'tun', bareNs) - (o.endpoints - picks.length);
    log(`removed ${picks.length} endpoints through the API: ${removedLeftovers} of their devices left`);
    result = {
      endpoints: o.endpoints,
      clusterStore: storeKind,
      dataplane: used,
      attachSeconds,
      attachPerSecond: o.endpoints / attachSeconds,
      attachPerSecondBy1000: windows,
      lastOverFirst: (full[full.length - 1] ?? 0) / (full[0] ?? 1),
      rssBefore,
      rssAfter,
      rssPerEndpoint: (rssAfter - rssBefore) / (o.endpoints - 1),
      replicateSeconds,
      remoteEntries,
      resolved: names.length - resolveWrong.length,
      resolveWrong,
      resolveSeconds,
      pinged: picks.length - pingFailed.length,
      pingFailed,
      pingRetried,
      removed: picks.length,
      removedLeftovers,
    };
  } catch (e) {
    if (deaths.length > 0) throw new Error(`${(e as Error).message}; ${deaths.join('; ')}`);
    throw e;
  } finally {
    if (deaths.length > 0) deaths.length = 0; // destroy() kills the rest; those are not deaths
    const t3 = Date.now();
    await c.destroy();
    await etcd?.stop();
    if (bareNs !== undefined && fs.existsSync(`/run/netns/${bareNs}`)) execFileSync('ip', ['netns', 'del', bareNs]);
    // A deleted namespace's TAPs go with it; none may be left in the hosts or the root namespace.
    // The kernel path's veths live in its per-network namespaces (`wfk-…`): one left counts too.
    const leftoverTaps = (bareNs !== undefined && fs.existsSync(`/run/netns/${bareNs}`) ? countLinks('tun', bareNs) + countLinks('veth', bareNs) : 0) +
      execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n').filter((l) => ownDevices.has(l.split(/[:@]\s*/)[1]?.trim() ?? '')).length +
      fs.readdirSync('/run/netns').filter((n) => kernelNsPrefixes.some((p) => n.startsWith(p))).length;
    const teardownSeconds = (Date.now() - t3) / 1000;
    if (result !== undefined) result = { ...result, leftoverTaps, teardownSeconds } as EndpointScaleResult;
  }
  return result as EndpointScaleResult;
}

export interface AgentScaleOptions {
  readonly agents: number;
  /** Seconds of steady state over which CPU is measured. */
  readonly steadySeconds: number;
  readonly subnet: number;
  readonly tag: string;
  readonly log?: (line: string) => void;
}

export interface AgentScaleResult {
  readonly agents: number;
  /** From the last join request until every agent lists every agent alive. */
  readonly convergeSeconds: number;
  readonly startSeconds: number;
  readonly rssMean: number;
  readonly rssMax: number;
  /** CPU seconds per agent over the steady window, and the same as a fraction of one core. */
  readonly cpuMean: number;
  readonly cpuMax: number;
  readonly steadySeconds: number;
  /** Agents that still listed every agent alive at the end of the window. */
  readonly stillConverged: number;
  /** Joins tried again because the manager did not answer in time. */
  readonly joinRetries: number;
}

const GC = '/proc/sys/net/ipv4/neigh/default/gc_thresh';

/**
 * The kernel's ARP table is one table for every namespace of the machine, capped by gc_thresh3
 * (default 1024). N hosts that all talk to each other need N² entries: at 50 agents (2,450) the
 * table overflows ("neighbor table overflow" in dmesg) and joins time out on failed ARP. Raises
 * gc_thresh2/3 to fit `entries` (more on top of what is there) and returns how to restore them.
 */
export function neighbourRoom(entries: number): () => void {
  const read = (i: number) => Number(fs.readFileSync(`${GC}${i}`, 'utf8').trim());
  const old2 = read(2);
  const old3 = read(3);
  const want3 = old3 + entries;
  if (old3 >= entries * 2) return () => undefined;
  fs.writeFileSync(`${GC}3`, String(want3));
  fs.writeFileSync(`${GC}2`, String(Math.max(old2, Math.floor(want3 / 2))));
  return () => {
    fs.writeFileSync(`${GC}2`, String(old2));
    fs.writeFileSync(`${GC}3`, String(old3));
  };
}

/**
 * `agents` real agents in one swarm on this machine (one namespace each). The machine's ARP table
 * limit is raised for the run (see neighbourRoom) and restored after.
 */
export async function agentScale(o: AgentScaleOptions): Promise<AgentScaleResult> {
  const log = o.log ?? (() => undefined);
  if (!Number.isInteger(o.agents) || o.agents < 2 || o.agents > 250) throw new Error(`agents must be an integer from 2 to 250, not ${o.agents}`);
  if (!(o.steadySeconds >= 1)) throw new Error(`steadySeconds must be at least 1, not ${o.steadySeconds}`);
  const restore = neighbourRoom(2 * o.agents * o.agents);
  let c: Cluster;
  try {
    c = await createCluster(o.agents, { tag: o.tag, subnet: o.subnet });
  } catch (e) {
    restore();
    throw e;
  }
  try {
    const t0 = Date.now();
    const joinRetries = await swarm(c, 10, log);
    const startSeconds = (Date.now() - t0) / 1000;
    log(`${o.agents} agents started and joined in ${startSeconds.toFixed(1)} s; waiting until each lists ${o.agents} alive`);
    const alive = async (h: Host) => (await h.client.nodes()).filter((n) => n.Status === 'ready' || n.Status === 'alive').length;
    const converged = async () => (await Promise.all(c.hosts.map(alive))).every((n) => n === o.agents);
    const convergeSeconds = (await eventually(converged, 300_000, `every agent to list ${o.agents} alive`, 500)) / 1000;
    log(`converged ${convergeSeconds.toFixed(1)} s after the last join; measuring ${o.steadySeconds} s of steady state`);
    const u0 = c.hosts.map(agentUsage);
    await new Promise((r) => setTimeout(r, o.steadySeconds * 1000));
    const u1 = c.hosts.map(agentUsage);
    const cpu = u1.map((u, i) => u.cpu - u0[i]!.cpu);
    const rss = u1.map((u) => u.rss);
    const counts = await Promise.all(c.hosts.map(alive));
    return {
      agents: o.agents,
      convergeSeconds,
      startSeconds,
      rssMean: rss.reduce((a, b) => a + b, 0) / rss.length,
      rssMax: Math.max(...rss),
      cpuMean: cpu.reduce((a, b) => a + b, 0) / cpu.length,
      cpuMax: Math.max(...cpu),
      steadySeconds: o.steadySeconds,
      stillConverged: counts.filter((n) => n === o.agents).length,
      joinRetries,
    };
  } finally {
    await c.destroy();
    restore();
  }
}
