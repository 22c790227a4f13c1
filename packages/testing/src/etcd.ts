/**
 * Real etcd clusters for tests and benchmarks: `startEtcdCluster` runs 1 or 3 `etcd` processes
 * (the Debian `etcd-server` package, ≥ 3.4), on loopback with free ports or one member per network
 * namespace on that namespace's address, waits until the cluster is healthy and hands back its
 * endpoints, a `kill(i)` / `restart(i)` per member and `stop()`. Every member is a child process
 * killed by PID; the data dirs live in one temp dir that `stop()` removes, also when start-up
 * fails and when the test process exits without stopping.
 *
 * Fast test settings: heartbeat 50 ms, election timeout 500 ms (etcd's defaults are 100/1000), so
 * a lost leader is replaced in about a second and the minimum lease TTL is 1 s (etcd's minimum is
 * 1.5 × the election timeout, rounded up to whole seconds).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where a member runs when it runs in a network namespace: the namespace and its address there. */
export interface EtcdPlace {
  readonly ns: string;
  readonly addr: string;
}

export interface EtcdClusterOptions {
  /** 1 or 3 members (default 1; taken from `netns` when given). */
  readonly members?: 1 | 3;
  /**
   * One member per namespace: a name (its first global IPv4 address is used) or `{ ns, addr }`.
   * Members listen on `addr:2379` (clients) and `addr:2380` (peers) inside their namespace. Root only.
   */
  readonly netns?: readonly (string | EtcdPlace)[];
  /** Serve clients over TLS with a CA and certificates made for this cluster (openssl); client certificates are required. */
  readonly tls?: boolean;
  /** Raft heartbeat and election timeout in ms (default 50 / 500). */
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  /** Part of every member's name and of the temp dir, for telling parallel runs apart. */
  readonly tag?: string;
}

export interface EtcdMember {
  readonly name: string;
  /** `host:port` of its client URL. */
  readonly endpoint: string;
  readonly ns?: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The running process's PID; undefined while killed. */
  readonly pid: number | undefined;
}

/** PEM files for the client side of a TLS cluster (what `--cluster-store-ca/-cert/-key` take). */
export interface EtcdClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface EtcdCluster {
  /** `host:port` per member, in member order. */
  readonly endpoints: readonly string[];
  /** `etcd://h:p,h:p,…` (`etcds://` with TLS): what `--cluster-store` takes. */
  readonly url: string;
  readonly members: readonly EtcdMember[];
  /** The temp dir holding data dirs, logs and certificates. */
  readonly dir: string;
  /** Client certificate files when started with `tls`. */
  readonly tls?: EtcdClientTls;
  /** SIGKILLs member `i` now (no-op when it is not running). */
  kill(i: number): void;
  /** Starts member `i` again on its data dir and waits until it serves (it answers status; quorum is not required). */
  restart(i: number): Promise<void>;
  /** Waits until every running member answers a linearizable read (the cluster has quorum). */
  healthy(timeoutMs?: number): Promise<void>;
  /** The index of the member that is the raft leader now, by the running members' own status; undefined without one. */
  leader(): Promise<number | undefined>;
  /** Kills every member and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

let etcdVersion: string | null | undefined;

/** The installed etcd's version, or undefined when `etcd` is not on the PATH. */
export function installedEtcd(): string | undefined {
  if (etcdVersion === undefined) {
    try {
      const out = execFileSync('etcd', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      etcdVersion = /etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown';
      execFileSync('etcdctl', ['version'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      etcdVersion = null;
    }
  }
  return etcdVersion ?? undefined;
}

/**
 * Why `startEtcdCluster(opts)` cannot run here (etcd or etcdctl missing, or namespaces without
 * root), or undefined when it can. Tests print it and skip.
 */
export function etcdSkipReason(opts: EtcdClusterOptions = {}): string | undefined {
  if (installedEtcd() === undefined) return 'etcd is not installed (apt-get install etcd-server etcd-client)';
  if (opts.netns !== undefined && process.getuid?.() !== 0) return 'etcd members in network namespaces need root';
  if (opts.tls === true) {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      return 'openssl is not installed (needed to make test certificates)';
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A port nothing listens on right now (bound to 0, then released). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // Not unref'd: under Deno an unref'd server whose listen is still pending lets the process exit.
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function nsAddress(ns: string): string {
  const out = execFileSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' });
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out);
  if (m === null) throw new Error(`network namespace ${ns} has no global IPv4 address for an etcd member`);
  return m[1]!;
}

/** A CA, a server certificate for `ips` (and 127.0.0.1/localhost) and a client certificate, made with openssl into `dir`. */
export function makeTestCertificates(dir: string, ips: readonly string[]): { ca: string; serverCert: string; serverKey: string; client: EtcdClientTls } {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=weft-test-etcd-ca', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  const issue = (name: string, cn: string, ext: string) => {
    fs.writeFileSync(f(`${name}.ext`), ext);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    ssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  };
  const sans = ['DNS:localhost', 'IP:127.0.0.1', ...[...new Set(ips)].filter((ip) => ip !== '127.0.0.1').map((ip) => `IP:${ip}`)].join(',');
  issue('server', 'weft-test-etcd', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  issue('client', 'weft-test-client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), client: { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') } };
}

interface MemberState {
  name: string;
  ns: string | undefined;
  host: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  proc: ChildProcess | undefined;
  exited: Promise<void> | undefined;
}

const live = new Set<EtcdCluster>();
let exitHook = false;
let seq = 0;

/** Starts a real etcd cluster and waits until it is healthy; see the module comment. */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const skip = etcdSkipReason(opts);
  if (skip !== undefined) throw new Error(`cannot start an etcd cluster: ${skip}`);
  const places: (EtcdPlace | undefined)[] =
    opts.netns !== undefined ? opts.netns.map((p) => (typeof p === 'string' ? { ns: p, addr: nsAddress(p) } : p)) : Array.from({ length: opts.members ?? 1 }, () => undefined);
  if (places.length !== 1 && places.length !== 3) throw new Error(`an etcd test cluster has 1 or 3 members, not ${places.length}`);
  if (opts.members !== undefined && opts.members !== places.length) throw new Error(`members: ${opts.members} but ${places.length} network namespaces given`);
  const tag = `${opts.tag ?? 'etcd'}${process.pid}-${++seq}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `weft-${tag}-`));
  const scheme = opts.tls === true ? 'https' : 'http';
  const members: MemberState[] = [];
  let stopped = false;
  let certs: ReturnType<typeof makeTestCertificates> | undefined;

  const cluster: EtcdCluster = {
    endpoints: [],
    url: '',
    members: [],
    dir,
    kill(i) {
      const m = member(i);
      const p = m.proc;
      m.proc = undefined;
      if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
    async restart(i) {
      const m = member(i);
      if (m.proc !== undefined) throw new Error(`etcd member ${m.name} is running; kill(${i}) it first`);
      // The child is unref'd: a timer keeps the event loop alive until its exit event (Deno
      // would otherwise end the process here).
      await Promise.race([m.exited, sleep(5000)]);
      launch(m);
      await waitUntil(() => ctl(m, ['endpoint', 'status']), 20_000, `etcd member ${m.name} to serve again after a restart`, m);
    },
    async healthy(timeoutMs = 20_000) {
      for (const m of members) if (m.proc !== undefined) await waitUntil(() => ctl(m, ['endpoint', 'health']), timeoutMs, `etcd member ${m.name} to be healthy`, m);
    },
    async leader() {
      for (const [i, m] of members.entries()) {
        if (m.proc === undefined) continue;
        const out = await ctlOut(m, ['endpoint', 'status', '-w', 'json']);
        // IDs are uint64: compare them as text (JSON.parse would round them).
        const id = /"member_id":(\d+)/.exec(out ?? '')?.[1];
        const lead = /"leader":(\d+)/.exec(out ?? '')?.[1];
        if (id !== undefined && lead !== undefined && lead !== '0' && id === lead) return i;
      }
      return undefined;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(cluster);
      for (let i = 0; i < members.length; i++) cluster.kill(i);
      await Promise.all(members.map((m) => Promise.race([m.exited, sleep(5000)])));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  function member(i: number): MemberState {
    const m = members[i];
    if (m === undefined) throw new Error(`no etcd member ${i} (the cluster has ${members.length})`);
    return m;
  }
  const clientUrl = (m: MemberState) => `${scheme}://${m.host}:${m.clientPort}`;
  const peerUrl = (m: MemberState) => `http://${m.host}:${m.peerPort}`;

  function launch(m: MemberState): void {
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', clientUrl(m),
      '--advertise-client-urls', clientUrl(m),
      '--listen-peer-urls', peerUrl(m),
      '--initial-advertise-peer-urls', peerUrl(m),
      '--initial-cluster', members.map((x) => `${x.name}=${peerUrl(x)}`).join(','),
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', tag,
      '--heartbeat-interval', String(opts.heartbeatMs ?? 50),
      '--election-timeout', String(opts.electionMs ?? 500),
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      ...(certs !== undefined ? ['--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--trusted-ca-file', certs.ca, '--client-cert-auth'] : []),
    ];
    const log = fs.openSync(m.logFile, 'a');
    // nsenter execs etcd, so the child's PID is etcd's.
    const p = m.ns !== undefined ? spawn('nsenter', [`--net=/run/netns/${m.ns}`, 'etcd', ...args], { stdio: ['ignore', log, log] }) : spawn('etcd', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    // The test process may end without stop(): its exit hook kills the members.
    p.unref();
    m.proc = p;
    m.exited = new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) r();
      else {
        p.once('exit', () => r());
        p.once('error', () => r());
      }
    });
  }

  /** Runs etcdctl against one member (inside its namespace), resolving whether it succeeded. */
  async function ctl(m: MemberState, args: string[]): Promise<boolean> {
    return (await ctlOut(m, args)) !== undefined;
  }

  /** Runs etcdctl against one member (inside its namespace): its output, or undefined when it failed. */
  function ctlOut(m: MemberState, args: string[]): Promise<string | undefined> {
    const tlsArgs = certs !== undefined ? ['--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key] : [];
    const full = ['--endpoints', clientUrl(m), '--dial-timeout', '1s', '--command-timeout', '2s', ...tlsArgs, ...args];
    const [cmd, argv] = m.ns !== undefined ? ['nsenter', [`--net=/run/netns/${m.ns}`, 'etcdctl', ...full]] : ['etcdctl', full];
    return new Promise((resolve) => {
      execFile(cmd as string, argv as string[], { timeout: 5000, encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } }, (e, out) => resolve(e === null ? out : undefined));
    });
  }

  async function waitUntil(check: () => Promise<boolean>, ms: number, what: string, m: MemberState): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (m.proc === undefined || m.proc.exitCode !== null || m.proc.signalCode !== null) {
        if (m.proc !== undefined) throw new Error(`etcd member ${m.name} exited while waiting for ${what}:\n${tail(m.logFile)}`);
      }
      if (await check()) return;
      if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}:\n${tail(m.logFile)}`);
      await sleep(100);
    }
  }

  live.add(cluster);
  if (!exitHook) {
    exitHook = true;
    // A test that dies without stop(): leave no etcd running and no data dir behind.
    process.once('exit', () => {
      for (const c of live) {
        for (let i = 0; i < c.members.length; i++) c.kill(i);
        fs.rmSync(c.dir, { recursive: true, force: true });
      }
    });
  }

  try {
    for (const [i, place] of places.entries()) {
      const host = place?.addr ?? '127.0.0.1';
      const name = `${tag}-m${i}`;
      members.push({
        name,
        ns: place?.ns,
        host,
        clientPort: place !== undefined ? 2379 : await freePort(host),
        peerPort: place !== undefined ? 2380 : await freePort(host),
        dataDir: path.join(dir, `${name}.data`),
        logFile: path.join(dir, `${name}.log`),
        proc: undefined,
        exited: undefined,
      });
    }
    if (opts.tls === true) certs = makeTestCertificates(path.join(dir, 'tls'), members.map((m) => m.host));
    Object.assign(cluster, {
      endpoints: members.map((m) => `${m.host}:${m.clientPort}`),
      url: `${opts.tls === true ? 'etcds' : 'etcd'}://${members.map((m) => `${m.host}:${m.clientPort}`).join(',')}`,
      ...(certs !== undefined ? { tls: certs.client } : {}),
    });
    Object.defineProperty(cluster, 'members', {
      get: () =>
        members.map((m): EtcdMember => ({ name: m.name, endpoint: `${m.host}:${m.clientPort}`, ...(m.ns !== undefined ? { ns: m.ns } : {}), dataDir: m.dataDir, logFile: m.logFile, pid: m.proc?.pid })),
    });
    for (const m of members) launch(m);
    await cluster.healthy(30_000);
    return cluster;
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
