/**
 * The local API (packages/api): Engine-like HTTP/1.1 + JSON on a unix socket. Pure routing and
 * presentation: every operation is the engine service or a kernel method of the control plane.
 */
import * as http from 'node:http';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import {
  decode, errors, formatError, GOSSIP_KEY_EPOCH_TAG, isWeftError, KERNEL_VERSION, orRaise, raise, WeftException, type ErrorCategory, type Kernel, type Logger, type Member, type WeftError,
} from '@weft/kernel';
import {
  API_VERSION, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, PeerAddRequest, SandboxCreateRequest, SwarmInitRequest, SwarmJoinRequest,
  type Info, type Node, type NodeStatus, type Version,
} from '@weft/api';
import { canonicalIP, joinHostPort } from '@weft/net';
import { listenUnix } from '@weft/plugin-socket';
import { serviceRoutes } from '@weft/services';
import { checkStoreUrl, type AgentConfig } from './config.ts';
import { peerAddresses, peersView } from './peers.ts';
import { parseEventQuery, streamEvents, type EventLog } from './events.ts';

export const WEFT_VERSION = '0.1.0';

const STATUS: Readonly<Record<ErrorCategory, number>> = {
  BadRequest: 400, NotFound: 404, Conflict: 409, Forbidden: 403, Unsupported: 501, Unavailable: 503, NotImplemented: 501, Internal: 500,
};

type Params = Readonly<Record<string, string>>;
type Handler = (p: Params, q: URLSearchParams, body: unknown) => Promise<unknown>;
interface Route {
  readonly method: string;
  readonly re: RegExp;
  readonly keys: readonly string[];
  readonly fn: Handler;
}

function route(method: string, pattern: string, fn: Handler): Route {
  const keys: string[] = [];
  const re = new RegExp(`^${pattern.replace(/\{(\w+)\}/g, (_, k: string) => (keys.push(k), '([^/]+)'))}$`);
  return { method, re, keys, fn };
}

function body<A>(codec: t.Type<A, unknown, unknown>, u: unknown): A {
  const r = decode(codec, u ?? {});
  if (!r.ok) raise(errors.badRequest('api', `Invalid request body: ${r.failure.path === '' ? '' : `${r.failure.path}: `}${r.failure.message}`, { path: r.failure.path, value: r.failure.value }));
  return r.value;
}

const flag = (q: URLSearchParams, k: string) => q.get(k) === '1' || q.get(k) === 'true';

export interface ApiDeps {
  readonly kernel: Kernel;
  readonly config: AgentConfig;
  readonly log: Logger;
  /** `GET /events` streams from it; absent: 404 there. */
  readonly events?: EventLog;
}

export function createApi(d: ApiDeps) {
  const { kernel, config } = d;
  const engine = () => kernel.service('engine') ?? raise(errors.unavailable('api', 'the engine plugin is not loaded on this agent'));
  const has = (name: string) => kernel.plugin(name) !== undefined;
  const invoke = async <T>(plugin: string, method: string, input: unknown): Promise<T> => {
    const r = await kernel.invoke(plugin, method, input);
    if (isLeft(r)) raise(r.left);
    return r.right as T;
  };
  const swarm = async () => {
    if (!has('control')) return undefined;
    const r = await kernel.invoke('control', 'Swarm.Inspect', {});
    return isLeft(r) ? undefined : r.right;
  };
  const members = (): readonly Member[] => {
    const m = kernel.service('membership');
    return m === undefined ? [] : m.members();
  };

  /** `--advertise-addr` of swarm init/join: an IP address, in canonical text; the agent's own by default. */
  const advertiseOf = (a: string | undefined): string => {
    if (a === undefined) return config.advertiseAddr;
    const r = canonicalIP(a);
    if (!r.ok) raise(errors.badRequest('api', `invalid --advertise-addr ${JSON.stringify(a)}: ${r.error}`, { value: a }));
    return r.ok ? r.value.text : a;
  };
  /**
   * `--data-path-addr` of swarm init/join. The data path was bound at the agent's start
   * (`weft-agent --data-path-addr`); the node record must name that address, or peers would send
   * VXLAN where nothing listens (and a family check per network would judge the wrong address).
   */
  const dataPathOf = (verb: 'init' | 'join', a: string | undefined): string => {
    if (a === undefined) return config.dataPathAddr;
    const r = canonicalIP(a);
    if (!r.ok) raise(errors.badRequest('api', `invalid --data-path-addr ${JSON.stringify(a)}: ${r.error}`, { value: a }));
    if (r.ok && r.value.text !== config.dataPathAddr) {
      raise(errors.badRequest('api', `swarm ${verb} --data-path-addr ${a}: this agent's data path runs on ${config.dataPathAddr}, bound when it started`, {
        value: a,
        hint: `Leave --data-path-addr out, or restart weft-agent with --data-path-addr ${r.value.text}.`,
      }));
    }
    return config.dataPathAddr;
  };

  const gossipStatus = (s: Member['state']): NodeStatus => (s === 'alive' ? 'ready' : s === 'dead' ? 'down' : s);

  /** This agent's gossip encryption (from the membership provider; never key material). */
  const encryption = () => {
    const e = kernel.service('membership')?.encryption?.();
    return e ?? { encrypted: config.gossipKeys.length > 0, keys: config.gossipKeys.length, refused: { packets: 0, streams: 0 } };
  };
  /**
   * A member's gossip encryption as this node sees it: gossip with it is encrypted when ours is
   * (an encrypted node refuses plaintext, so it only hears members holding its keys); its key
   * epoch is the one it gossips.
   */
  const gossipOf = (m: Member, self: boolean): NonNullable<Node['Gossip']> => {
    const e = encryption();
    const epoch = self ? e.keyEpoch : m.meta[GOSSIP_KEY_EPOCH_TAG] !== undefined ? Number(m.meta[GOSSIP_KEY_EPOCH_TAG]) : undefined;
    return { Encrypted: e.encrypted, ...(epoch !== undefined && Number.isSafeInteger(epoch) ? { KeyEpoch: epoch } : {}) };
  };

  async function nodes(): Promise<Node[]> {
    const out: Node[] = [];
    const seen = new Set<string>();
    const self = kernel.service('membership')?.self().name ?? config.nodeName;
    const gossip = new Map(members().map((m) => [m.name, m]));
    const sw = await swarm();
    // A worker cannot read the swarm's node list (Docker's rule); it lists the gossip members it sees.
    const listed = sw === undefined || sw.Role === 'worker' ? undefined : await kernel.invoke('control', 'Node.List', {});
    if (listed !== undefined && isLeft(listed)) raise(listed.left);
    if (listed !== undefined && !isLeft(listed)) {
      const views = listed.right;
      for (const v of views) {
        const g = gossip.get(v.Description.Hostname);
        seen.add(v.Description.Hostname);
        out.push({
          ID: v.ID,
          Name: v.Description.Hostname,
          Status: g !== undefined && v.Status.State !== 'left' ? gossipStatus(g.state) : (v.Status.State as NodeStatus),
          Availability: v.Spec.Availability,
          ManagerStatus: v.ManagerStatus === undefined ? '' : v.ManagerStatus.Leader ? 'Leader' : v.ManagerStatus.Reachability === 'reachable' ? 'Reachable' : 'Unreachable',
          Platform: { OS: v.Description.Platform.OS, Arch: v.Description.Platform.Architecture },
          Addr: v.Status.Addr,
          Weft: true,
          Self: v.Description.Hostname === self,
          Role: v.Spec.Role,
          Tags: g?.meta ?? {},
          ...(g !== undefined ? { Gossip: gossipOf(g, v.Description.Hostname === self) } : {}),
        });
      }
    }
    // Every gossip member too: Weft nodes outside the swarm and foreign memberlist/serf agents.
    for (const m of members()) {
      if (seen.has(m.name)) continue;
      out.push({
        ID: m.name,
        Name: m.name,
        Status: m.state === 'alive' ? 'alive' : m.state === 'dead' ? 'failed' : m.state,
        Availability: '',
        ManagerStatus: '',
        Platform: { OS: m.meta.os ?? '', Arch: m.meta.arch ?? '' },
        Addr: `${m.addr}:${m.port}`,
        Weft: m.meta.weft === '1',
        Self: m.name === self,
        Tags: m.meta,
        Gossip: gossipOf(m, m.name === self),
      });
    }
    return out;
  }

  /**
   * Docker's `swarm init` makes the `ingress` network (the routing mesh's) at once, so every node
   * lists it from its join on. The services plugin uses whichever network is marked Ingress, and
   * makes one itself if it was removed and a service publishes a port again.
   */
  async function createIngress(): Promise<void> {
    if (!has('services') || kernel.service('engine') === undefined) return;
    try {
      if ((await engine().listDefs()).some((x) => x.Ingress === true || x.Name === 'ingress')) return;
      await engine().createNetwork({ Name: 'ingress', Driver: 'overlay', Ingress: true });
    } catch (e) {
      d.log.warn('swarm init: could not create the ingress network (it is made when a service first publishes a port)', { error: String((e as Error)?.message ?? e) });
    }
  }

  const routes: Route[] = [
    route('GET', '/_ping', async () => 'OK'),
    route('GET', '/version', async (): Promise<Version> => ({ Version: WEFT_VERSION, ApiVersion: API_VERSION, KernelVersion: KERNEL_VERSION, Os: process.platform, Arch: process.arch, NodeVersion: process.version })),
    route('GET', '/info', async (): Promise<Info> => {
      const sw = await swarm();
      const nets = await engine().listDefs();
      const sbs = await engine().sandboxes();
      const cipher = kernel.service('cipher');
      return {
        Name: config.nodeName,
        NodeID: sw?.NodeID ?? '',
        Role: sw?.Role ?? 'standalone',
        ClusterID: sw?.ClusterID ?? '',
        Managers: sw?.Managers ?? [],
        ...(sw?.ClusterStore !== undefined ? { ClusterStore: sw.ClusterStore } : {}),
        Members: members().length,
        Networks: nets.length,
        Sandboxes: sbs.length,
        CryptoBackend: cipher?.backend ?? 'none',
        DataPath: { Addr: config.dataPathAddr, Port: config.dataPathPort },
        Gossip: (() => {
          const e = encryption();
          return {
            Addr: config.gossipAddr,
            Port: config.gossipPort,
            Encrypted: e.encrypted,
            ...(e.keyEpoch !== undefined ? { KeyEpoch: e.keyEpoch } : {}),
            Keys: e.keys,
            Refused: { Packets: e.refused.packets, Streams: e.refused.streams },
          };
        })(),
        Os: config.os,
        StateDir: config.stateDir,
        Plugins: kernel.providers('NetworkDriver').concat(kernel.providers('IpamDriver')).map((n) => {
          const p = kernel.plugin(n)!;
          return { Name: n, Version: p.manifest.version, Provides: p.manifest.provides };
        }),
      };
    }),
    route('POST', '/swarm/init', async (_p, _q, b) => {
      const r = body(SwarmInitRequest, b);
      // --cluster-store on the command line wins over the agent's flag; TLS files merge.
      const store = r.ClusterStore === undefined ? config.clusterStore : { ...config.clusterStore, ...r.ClusterStore, URL: r.ClusterStore.URL !== '' ? r.ClusterStore.URL : config.clusterStore.URL };
      const bad = checkStoreUrl(store.URL);
      if (bad !== undefined) raise(errors.badRequest('api', `invalid --cluster-store ${JSON.stringify(store.URL)}: ${bad}`, { value: store.URL }));
      const init = orRaise(await kernel.invoke('control', 'Swarm.Init', {
        ...r,
        ClusterStore: store,
        AdvertiseAddr: advertiseOf(r.AdvertiseAddr),
        ListenAddr: r.ListenAddr ?? joinHostPort(config.listenAddr, config.listenPort),
        DataPathAddr: dataPathOf('init', r.DataPathAddr),
        DataPathPort: r.DataPathPort ?? config.dataPathPort,
        NodeName: config.nodeName,
        OS: config.os,
      }));
      await createIngress();
      const w = orRaise(await kernel.invoke('control', 'Swarm.JoinToken', { Role: 'worker' }));
      const m = orRaise(await kernel.invoke('control', 'Swarm.JoinToken', { Role: 'manager' }));
      return { ...init, WorkerToken: w.Token, ManagerToken: m.Token };
    }),
    route('POST', '/swarm/join', async (_p, _q, b) => {
      const r = body(SwarmJoinRequest, b);
      const { URL: _url, ...tls } = config.clusterStore;
      return invoke('control', 'Swarm.Join', {
        ...r,
        ClusterStore: { ...tls, ...(r.ClusterStore ?? {}) },
        AdvertiseAddr: advertiseOf(r.AdvertiseAddr),
        DataPathAddr: dataPathOf('join', r.DataPathAddr),
        DataPathPort: config.dataPathPort,
        ListenAddr: r.ListenAddr ?? joinHostPort(config.listenAddr, config.listenPort),
        GossipAddr: joinHostPort(config.gossipAddr, config.gossipPort),
        NodeName: config.nodeName,
        OS: config.os,
      });
    }),
    route('GET', '/swarm/join-token', async (_p, q) => {
      const role = q.get('role') ?? 'worker';
      if (role !== 'worker' && role !== 'manager') raise(errors.badRequest('api', `unknown role ${JSON.stringify(role)}: expected worker or manager`, { value: role }));
      const r = orRaise(await kernel.invoke('control', 'Swarm.JoinToken', { Role: role, Rotate: flag(q, 'rotate') }));
      const sw = await swarm();
      return { Role: role, Token: r.Token, Manager: sw?.Managers[0] ?? joinHostPort(config.advertiseAddr, config.listenPort) };
    }),
    route('POST', '/swarm/leave', async (_p, q) => invoke('control', 'Swarm.Leave', { Force: flag(q, 'force') })),
    // Rotate the data-path and gossip key rings now (managers; the 12 h schedule continues).
    route('POST', '/swarm/rotate-keys', async () => invoke('control', 'Swarm.RotateKeys', {})),
    route('GET', '/nodes', async () => nodes()),
    route('GET', '/nodes/{id}', async (p) => {
      const all = await nodes();
      const n = all.find((x) => x.ID === p.id || x.Name === p.id) ?? all.filter((x) => x.ID.startsWith(p.id!))[0];
      if (n === undefined) raise(errors.notFound('api', `node "${p.id}" not found`, { value: p.id }));
      return n;
    }),
    route('DELETE', '/nodes/{id}', async (p, q) => invoke('control', 'Node.Remove', { Node: p.id, Force: flag(q, 'force') })),
    route('POST', '/nodes/{id}/promote', async (p) => invoke('control', 'Node.Promote', { Node: p.id })),
    route('POST', '/nodes/{id}/demote', async (p) => invoke('control', 'Node.Demote', { Node: p.id })),
    route('GET', '/networks', async () => {
      // As in Docker: a worker lists a swarm network only while one of its sandboxes uses it;
      // the ingress network it lists from the moment it joins.
      const worker = (await swarm())?.Role === 'worker';
      const defs = [];
      for (const d of await engine().listDefs()) if (!worker || d.Scope !== 'swarm' || d.Ingress === true || (await engine().instantiated(d.Id))) defs.push(d);
      return Promise.all(defs.map((d) => engine().networkView(d)));
    }),
    route('POST', '/networks/create', async (_p, _q, b) => engine().createNetwork(body(NetworkCreateRequest, b))),
    route('POST', '/networks/prune', async () => {
      const deleted: string[] = [];
      for (const d of await engine().listDefs()) {
        const v = await engine().networkView(d);
        if (Object.keys(v.Containers).length > 0) continue;
        try {
          await engine().removeNetwork(d.Id);
          deleted.push(d.Name);
        } catch {
          /* in use elsewhere or not a manager: keep */
        }
      }
      return { NetworksDeleted: deleted };
    }),
    route('GET', '/networks/{id}', async (p) => engine().networkView(await engine().resolve(p.id!))),
    route('DELETE', '/networks/{id}', async (p) => (await engine().removeNetwork(p.id!), {})),
    route('POST', '/networks/{id}/connect', async (p, _q, b) => {
      const r = body(NetworkConnectRequest, b);
      await engine().connect(p.id!, r.Container, r.EndpointConfig?.IPAddress, r.EndpointConfig?.Aliases ?? [], r.EndpointConfig?.IPv6Address);
      return {};
    }),
    route('POST', '/networks/{id}/disconnect', async (p, _q, b) => {
      const r = body(NetworkDisconnectRequest, b);
      await engine().disconnect(p.id!, r.Container, r.Force ?? false);
      return {};
    }),
    route('GET', '/networks/{id}/peers', async (p) => {
      const def = await engine().resolve(p.id!);
      const view = await engine().networkView(def);
      const self = kernel.service('membership')?.self().name ?? config.nodeName;
      return peersView(view, def.Id, kernel.service('datapath')?.stats?.(), self);
    }),
    route('POST', '/networks/{id}/peers', async (p, _q, b) => {
      const r = body(PeerAddRequest, b);
      const def = await engine().resolve(p.id!);
      const dp = kernel.service('datapath');
      if (dp === undefined) raise(errors.unavailable('api', 'no data path is loaded on this agent'));
      dp.addPeer({ network: def.Id, mac: r.MAC.toLowerCase(), ...peerAddresses(def, r), vtep: r.VTEP, external: true });
      return {};
    }),
    route('DELETE', '/networks/{id}/peers/{mac}', async (p) => {
      const def = await engine().resolve(p.id!);
      kernel.service('datapath')?.removePeer(def.Id, p.mac!.toLowerCase());
      return {};
    }),
    route('GET', '/sandboxes', async () => engine().sandboxes()),
    route('POST', '/sandboxes/create', async (_p, _q, b) => engine().createSandbox(body(SandboxCreateRequest, b))),
    route('GET', '/sandboxes/{name}', async (p) => engine().sandbox(p.name!)),
    route('DELETE', '/sandboxes/{name}', async (p, q) => (await engine().removeSandbox(p.name!, flag(q, 'force')), {})),
    route('POST', '/sandboxes/{name}/stop', async (p, q) => {
      const num = (k: string, max: number) => {
        const v = q.get(k);
        if (v === null) return undefined;
        if (!/^[0-9]+$/.test(v) || Number(v) > max) raise(errors.badRequest('api', `invalid ${k} ${JSON.stringify(v)}: a whole number up to ${max}`, { value: v }));
        return Number(v);
      };
      const t = num('t', 86_400);
      const code = num('exitcode', 255);
      await engine().stopSandbox(p.name!, { ...(t !== undefined ? { timeoutMs: t * 1000 } : {}), ...(code !== undefined ? { exitCode: code } : {}) });
      return {};
    }),
    route('POST', '/sandboxes/{name}/start', async (p) => engine().startSandbox(p.name!)),
    // Services, tasks and stacks (@weft/services; changed on the swarm leader, read on any manager).
    ...serviceRoutes(() => kernel.service('services') ?? raise(errors.unavailable('api', 'the services plugin is not loaded on this agent'))).map((r) => route(r.method, r.pattern, r.fn)),
  ];

  async function handle(method: string, url: string, raw: string): Promise<[number, unknown]> {
    let u: URL;
    try {
      u = new URL(url, 'http://weft');
    } catch {
      return [400, { message: `invalid request path ${JSON.stringify(url.slice(0, 80))}` }];
    }
    const matches = routes.filter((r) => r.re.test(u.pathname));
    const r = matches.find((x) => x.method === method);
    if (r === undefined) {
      if (matches.length > 0) return [405, { message: `method ${method} not allowed on ${u.pathname}` }];
      return [404, { message: `page not found: ${method} ${u.pathname} is not part of this agent's API (version ${API_VERSION})` }];
    }
    const m = r.re.exec(u.pathname)!;
    const params: Record<string, string> = {};
    try {
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
    } catch {
      return [400, { message: `invalid percent-encoding in ${JSON.stringify(u.pathname.slice(0, 80))}` }];
    }
    let b: unknown = undefined;
    if (raw.trim() !== '') {
      try {
        b = JSON.parse(raw);
      } catch {
        return [400, { message: `the request body is not valid JSON (${JSON.stringify(raw.slice(0, 40))})` }];
      }
    }
    try {
      return [200, await r.fn(params, u.searchParams, b)];
    } catch (e) {
      const err: WeftError = e instanceof WeftException ? e.error : isWeftError(e) ? e : errors.internal('api', String((e as Error)?.message ?? e));
      if (err.category === 'Internal') d.log.error('API call failed', { method, path: u.pathname, error: formatError(err) });
      return [STATUS[err.category], { message: err.message, ...(err.hint !== undefined ? { hint: err.hint } : {}), code: err.code }];
    }
  }

  async function listen(socketPath: string): Promise<{ close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (d.events !== undefined && (req.url === '/events' || req.url?.startsWith('/events?') === true)) {
        serveEvents(d.events, req, res);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1 << 20) chunks.push(c);
      });
      req.on('end', () => {
        if (size > 1 << 20) {
          res.writeHead(413, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'request body larger than 1 MiB' }));
          return;
        }
        // Whatever a request does, it never takes the agent down: a failure here is a 500.
        void handle(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'))
          .then(([status, out]) => {
            const text = JSON.stringify(out);
            res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Api-Version': API_VERSION });
            res.end(text);
          })
          .catch((e) => {
            d.log.error('API request failed', { error: String(e) });
            if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ message: 'internal error' }));
          });
      });
      req.on('error', () => {});
    });
    // Root-only: the API creates namespaces and runs commands.
    return { close: await listenUnix(server, socketPath, 0o660) };
  }

  /** `GET /events`: Docker's streaming endpoint, one JSON event per line. */
  function serveEvents(log: EventLog, req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const fail = (status: number, message: string) => {
      const text = JSON.stringify({ message });
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Api-Version': API_VERSION });
      res.end(text);
    };
    if (req.method !== 'GET') return fail(405, `method ${req.method} not allowed on /events`);
    let q: ReturnType<typeof parseEventQuery>;
    try {
      q = parseEventQuery(new URL(req.url ?? '/', 'http://weft').searchParams);
    } catch {
      return fail(400, 'invalid /events query');
    }
    if (typeof q === 'string') return fail(400, q);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION, 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    streamEvents(log, q, { write: (t) => res.write(t), end: () => res.end(), onClose: (fn) => res.once('close', fn) });
  }

  return { handle, listen, nodes };
}

