/** A typed client of the agent's local API over its unix socket (used by the CLI and tests). */
import * as http from 'node:http';
import type {
  Info, JoinTokenResponse, KeyRingInfo, Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
  NetworkPeers, Node, PeerAddRequest, Sandbox, SandboxCreateRequest, SwarmInitRequest, SwarmInitResponse, SwarmJoinRequest,
  SwarmJoinResponse, Version,
  Service, ServiceCreateResponse, ServiceSpec, StackDeployRequest, StackDeployResponse, StackSummary, Task,
} from './types.ts';

export const DEFAULT_SOCKET = '/run/weft/weft.sock';

/** An error answered by the agent (`status` ≥ 400) or raised reaching it (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  /** What the caller can do about it, when the agent says. */
  readonly hint: string | undefined;
  /** The agent's stable error code (`WEFT_...`), when given. */
  readonly code: string | undefined;
  constructor(status: number, message: string, hint?: string, code?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.hint = hint;
    this.code = code;
  }
}

/** `unix:///run/weft/weft.sock` or a bare path → socket path. */
export function socketFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new ApiError(0, `Unsupported host ${JSON.stringify(host)}: use unix:///path/to/weft.sock`);
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

export function request<T>(socketPath: string, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        path,
        method,
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        timeout: opts.timeoutMs ?? 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? {} : JSON.parse(text);
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const o = (json ?? {}) as { message?: unknown; hint?: unknown; code?: unknown };
            const msg = typeof o.message === 'string' ? o.message : text.trim() || `HTTP ${status}`;
            reject(new ApiError(status, msg, typeof o.hint === 'string' ? o.hint : undefined, typeof o.code === 'string' ? o.code : undefined));
          } else if (json === undefined) reject(new ApiError(status, `The agent answered ${method} ${path} with invalid JSON`));
          else resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 120_000} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(new ApiError(0, `Cannot connect to the Weft agent at unix://${socketPath}. Is weft-agent running? (set -H or WEFT_HOST to use another socket)`));
      } else if (e.code === 'EACCES') {
        reject(new ApiError(0, `Permission denied on unix://${socketPath}: the agent's socket is root-only; run as root`));
      } else reject(new ApiError(0, `Cannot reach the Weft agent at unix://${socketPath}: ${e.message}`));
    });
    req.end(payload);
  });
}

const q = (o: Record<string, string | boolean | undefined>) => {
  const parts = Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v === true ? '1' : String(v))}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
};
const seg = encodeURIComponent;

export interface Client {
  readonly socketPath: string;
  version(): Promise<Version>;
  info(): Promise<Info>;
  swarmInit(r: SwarmInitRequest): Promise<SwarmInitResponse>;
  swarmJoin(r: SwarmJoinRequest): Promise<SwarmJoinResponse>;
  joinToken(role: 'worker' | 'manager', rotate?: boolean): Promise<JoinTokenResponse>;
  swarmLeave(force?: boolean): Promise<void>;
  rotateKeys(): Promise<KeyRingInfo>;
  nodes(): Promise<Node[]>;
  node(id: string): Promise<Node>;
  nodeRemove(id: string, force?: boolean): Promise<void>;
  nodePromote(id: string): Promise<void>;
  nodeDemote(id: string): Promise<void>;
  networks(): Promise<Network[]>;
  networkCreate(r: NetworkCreateRequest): Promise<NetworkCreateResponse>;
  network(id: string): Promise<Network>;
  networkRemove(id: string): Promise<void>;
  networkPrune(): Promise<{ NetworksDeleted: string[] }>;
  networkConnect(id: string, r: NetworkConnectRequest): Promise<void>;
  networkDisconnect(id: string, r: NetworkDisconnectRequest): Promise<void>;
  networkPeers(id: string): Promise<NetworkPeers>;
  peerAdd(id: string, r: PeerAddRequest): Promise<void>;
  peerRemove(id: string, mac: string): Promise<void>;
  sandboxes(): Promise<Sandbox[]>;
  sandboxCreate(r: SandboxCreateRequest): Promise<Sandbox>;
  sandbox(name: string): Promise<Sandbox>;
  sandboxRemove(name: string, force?: boolean): Promise<void>;
  /** Docker's `stop`: `timeoutSec` before SIGKILL; `exitCode` of an attached command that ended (the client ran it). */
  sandboxStop(name: string, opts?: { timeoutSec?: number; exitCode?: number }): Promise<void>;
  sandboxStart(name: string): Promise<Sandbox>;
  services(status?: boolean): Promise<Service[]>;
  service(id: string): Promise<Service>;
  serviceCreate(spec: ServiceSpec): Promise<ServiceCreateResponse>;
  serviceUpdate(id: string, version: number, spec: ServiceSpec): Promise<{ Warnings?: string[] }>;
  serviceRemove(id: string): Promise<void>;
  /** Docker's filters: `{ service: ['S'] }`, `{ label: ['com.docker.stack.namespace=NAME'] }`. */
  tasks(filters?: Readonly<Record<string, readonly string[]>>): Promise<Task[]>;
  stacks(): Promise<StackSummary[]>;
  stackDeploy(r: StackDeployRequest): Promise<StackDeployResponse>;
  stackRemove(name: string): Promise<void>;
}

export function createClient(socketPath: string = DEFAULT_SOCKET, opts: RequestOptions = {}): Client {
  const r = <T>(method: string, path: string, body?: unknown) => request<T>(socketPath, method, path, body, opts);
  const none = async (p: Promise<unknown>) => {
    await p;
  };
  return {
    socketPath,
    version: () => r('GET', '/version'),
    info: () => r('GET', '/info'),
    swarmInit: (b) => r('POST', '/swarm/init', b),
    swarmJoin: (b) => r('POST', '/swarm/join', b),
    joinToken: (role, rotate) => r('GET', `/swarm/join-token${q({ role, rotate })}`),
    swarmLeave: (force) => none(r('POST', `/swarm/leave${q({ force })}`)),
    rotateKeys: () => r('POST', '/swarm/rotate-keys'),
    nodes: () => r('GET', '/nodes'),
    node: (id) => r('GET', `/nodes/${seg(id)}`),
    nodeRemove: (id, force) => none(r('DELETE', `/nodes/${seg(id)}${q({ force })}`)),
    nodePromote: (id) => none(r('POST', `/nodes/${seg(id)}/promote`)),
    nodeDemote: (id) => none(r('POST', `/nodes/${seg(id)}/demote`)),
    networks: () => r('GET', '/networks'),
    networkCreate: (b) => r('POST', '/networks/create', b),
    network: (id) => r('GET', `/networks/${seg(id)}`),
    networkRemove: (id) => none(r('DELETE', `/networks/${seg(id)}`)),
    networkPrune: () => r('POST', '/networks/prune'),
    networkConnect: (id, b) => none(r('POST', `/networks/${seg(id)}/connect`, b)),
    networkDisconnect: (id, b) => none(r('POST', `/networks/${seg(id)}/disconnect`, b)),
    networkPeers: (id) => r('GET', `/networks/${seg(id)}/peers`),
    peerAdd: (id, b) => none(r('POST', `/networks/${seg(id)}/peers`, b)),
    peerRemove: (id, mac) => none(r('DELETE', `/networks/${seg(id)}/peers/${seg(mac)}`)),
    sandboxes: () => r('GET', '/sandboxes'),
    sandboxCreate: (b) => r('POST', '/sandboxes/create', b),
    sandbox: (name) => r('GET', `/sandboxes/${seg(name)}`),
    sandboxRemove: (name, force) => none(r('DELETE', `/sandboxes/${seg(name)}${q({ force })}`)),
    sandboxStop: (name, o) => none(r('POST', `/sandboxes/${seg(name)}/stop${q({ t: o?.timeoutSec === undefined ? undefined : String(o.timeoutSec), exitcode: o?.exitCode === undefined ? undefined : String(o.exitCode) })}`)),
    sandboxStart: (name) => r('POST', `/sandboxes/${seg(name)}/start`),
    services: (status) => r('GET', `/services${q({ status: status === true ? 'true' : undefined })}`),
    service: (id) => r('GET', `/services/${seg(id)}`),
    serviceCreate: (spec) => r('POST', '/services/create', spec),
    serviceUpdate: (id, version, spec) => r('POST', `/services/${seg(id)}/update?version=${version}`, spec),
    serviceRemove: (id) => none(r('DELETE', `/services/${seg(id)}`)),
    tasks: (filters) => r('GET', `/tasks${filters === undefined ? '' : `?filters=${seg(JSON.stringify(filters))}`}`),
    stacks: () => r('GET', '/stacks'),
    stackDeploy: (b) => r('POST', '/stacks/deploy', b),
    stackRemove: (name) => none(r('DELETE', `/stacks/${seg(name)}`)),
  };
}

/** `GET /events` query (Docker's): timestamps are seconds since the epoch, optionally fractional. */
export interface EventsQuery {
  readonly since?: string;
  readonly until?: string;
  /** `{ type: ['network'], event: ['create'] }`. */
  readonly filters?: Readonly<Record<string, readonly string[]>>;
}

export interface EventStream {
  /** Resolves when the agent ends the stream (`until` reached, agent stopping) or after `close()`. */
  readonly done: Promise<void>;
  close(): void;
}

/**
 * Streams the agent's events (`GET /events`, Docker's `docker events`): `onLine` gets each event
 * as its JSON text (`timeNano` exceeds 2^53: read it from the text when it must be exact).
 * `done` rejects with an ApiError when the agent refuses the query or cannot be reached.
 */
export function streamEvents(socketPath: string, query: EventsQuery, onLine: (json: string) => void): EventStream {
  let req: http.ClientRequest | undefined;
  let closed = false;
  const params = q({ since: query.since, until: query.until, filters: query.filters === undefined ? undefined : JSON.stringify(query.filters) });
  const done = new Promise<void>((resolve, reject) => {
    req = http.request({ socketPath, path: `/events${params}`, method: 'GET', agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        if (status >= 400) return;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line !== '') onLine(line);
        }
      });
      res.on('end', () => {
        if (status >= 400) {
          let msg = buf.trim() || `HTTP ${status}`;
          try {
            const o = JSON.parse(buf) as { message?: unknown };
            if (typeof o.message === 'string') msg = o.message;
          } catch {
            /* not JSON: the text itself */
          }
          reject(new ApiError(status, msg));
        } else resolve();
      });
      res.on('error', () => resolve());
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (closed) return resolve();
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new ApiError(0, `Cannot connect to the Weft agent at unix://${socketPath}. Is weft-agent running? (set -H or WEFT_HOST to use another socket)`));
      else reject(new ApiError(0, `Cannot reach the Weft agent at unix://${socketPath}: ${e.message}`));
    });
    req.end();
  });
  return {
    done,
    close() {
      closed = true;
      req?.destroy();
    },
  };
}
