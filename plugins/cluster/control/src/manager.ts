/**
 * A manager: serves the control channel on TCP, answers every read from its `ClusterView` and
 * makes every change as a cluster-store transaction (writes.ts), pushes snapshots to the nodes
 * connected to it, and — while it holds the leader lease (presence.ts) — runs what must run once:
 * key rotation on the persisted schedule. Any number of managers share one store; each answers
 * reads and writes itself.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import {
  ClusterStoreConfig,
  errors,
  fromUnknown,
  generateDataKey,
  getJson,
  jsonValue,
  putJson,
  raise,
  silentLogger,
  type BlockAllocator,
  type ClusterStore,
  type DataKey,
  type Logger,
  type Store,
} from '@weft/kernel';
import { acceptChannel, FRAME_READ_LIMIT, LABEL_JOIN, LABEL_NODE, HANDSHAKE_TIMEOUT_MS, type Conn } from './channel.ts';
import {
  AttachRequest,
  AuthMsg,
  BlockReleaseMsg,
  BlockRequestMsg,
  Empty,
  JoinTokenRequest,
  NetworkCreateRequest,
  NetworkRef,
  NodeRef,
  NodeRemoveRequest,
  RpcRequest,
  type JoinInfo,
  type KeyRingInfo,
  type NetworkRecord,
  type NodeRecord,
  type NodeView,
  type Role,
  type Snapshot,
} from './codecs.ts';
import { FORMAT, K, type MetaRecord } from './keys.ts';
import { Presence } from './presence.ts';
import { decodeOr, toWire } from './rpc.ts';
import * as S from './state.ts';
import { formatToken, newSecret, secretKey } from './token.ts';
import { concat, fromB64, joinHostPort, newId, sodium, splitHostPort, toB64 } from './util.ts';
import { ClusterView, snapshotChanged, type Change } from './view.ts';
import { Writes } from './writes.ts';

/** A wildcard bind advertises the first non-internal IPv4 address, else IPv6 (Docker asks; we guess, then loopback). */
export function defaultAdvertise(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const all = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal);
  const v4 = all.find((a) => a.family === 'IPv4');
  if (v4 !== undefined) return v4.address;
  // An IPv6-only host: its first global (or unique local) address; link-local ones need a zone.
  const v6 = all.find((a) => a.family === 'IPv6' && !/^fe[89ab]/i.test(a.address));
  return v6?.address ?? '127.0.0.1';
}
export const DEFAULT_HEARTBEAT_MS = 5000;
/** Connections still in the handshake or authentication; more are dropped at once. */
export const MAX_PENDING_HANDSHAKES = 128;

/** This host's part of being a manager (in its state dir); the cluster's part is in the store. */
export const LocalConfig = t.type({
  Version: t.literal(2),
  ClusterID: t.string,
  NodeID: t.string,
  /** This node's own Ed25519 identity (it authenticates with it as a worker after a demotion). */
  NodeKey: t.type({ PublicKey: t.string, SecretKey: t.string }),
  BindAddr: t.string,
  ListenAddr: t.string,
  Store: ClusterStoreConfig,
});
export type LocalConfig = t.TypeOf<typeof LocalConfig>;
export const LOCAL_KEY = 'local';

export interface ManagerOptions {
  /** This host's manager config (the control plugin passes `ctx.store.scope('manager')`). */
  readonly local: Store;
  /** The swarm's cluster store, opened by the caller. */
  readonly cluster: ClusterStore;
  /** How this host opens the store (URL and its own TLS files), kept in the local config. */
  readonly storeConfig: t.TypeOf<typeof ClusterStoreConfig>;
  /** Whether other hosts can share the store (a second manager needs it). */
  readonly shared: boolean;
  readonly now?: () => number;
  readonly log?: Logger;
  readonly heartbeatMs?: number;
  /** The address-block allocator (the kernel's `blocks` contract); the view keeps it current. */
  readonly blocks: BlockAllocator;
  /** Gossip's view of a node (`alive`, `suspect`, `dead`, ...); undefined → store/connection status. */
  readonly statusHook?: (node: NodeRecord) => string | undefined;
  /** Routes a node's Network.Attach/Detach through the local kernel (so guards apply). */
  readonly invokeAttach?: (method: 'Network.Attach' | 'Network.Detach', input: AttachRequest) => Promise<unknown>;
  /** Called with every new snapshot (this manager's own node applies networks and keys from it). */
  readonly onSnapshot?: (s: Snapshot) => void;
  /** Leadership gained or lost. */
  readonly onLeader?: (leader: boolean) => void;
  /** This manager's own node record changed role to worker (demoted) or vanished (removed). */
  readonly onSelfChanged?: (what: 'demoted' | 'removed') => void;
  readonly generateKey?: (epoch: number) => DataKey;
  readonly leaseTtlSeconds?: number;
}

export interface InitParams {
  readonly host: string;
  readonly port: number;
  readonly advertise?: string;
  readonly nodeName: string;
  readonly platform: { OS: string; Architecture: string };
  readonly rotationIntervalMs?: number;
  readonly defaultAddrPool?: readonly string[];
  readonly subnetSize?: number;
  readonly gossipAddr?: string;
  readonly dataPathAddr?: string;
  readonly dataPathPort?: number;
}

export interface JoinParams {
  readonly host: string;
  readonly port: number;
  readonly advertise: string;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly nodeKey: { PublicKey: string; SecretKey: string };
}

interface Session {
  readonly conn: Conn;
  nodeId: string;
  role: Role;
}

export interface ManagerStats {
  connections: number;
  badConnections: number;
  refusedJoins: number;
}

const storeName = (url: string): string => url.replace(/\/\/[^@/]*@/, '//');

export class Manager {
  readonly view: ClusterView;
  readonly writes: Writes;
  private cfg: LocalConfig;
  private readonly opts: ManagerOptions;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly sessions = new Set<Session>();
  /** Every accepted socket, also those still in their handshake or refused: close() destroys them all (server.close waits for each). */
  private readonly sockets = new Set<net.Socket>();
  private readonly lastSeen = new Map<string, number>();
  private server: net.Server | undefined;
  private presence: Presence | undefined;
  private rotationTimer: ReturnType<typeof setTimeout> | undefined;
  /** Snapshot pushes are coalesced: one per burst of changes (a turn of the event loop). */
  private pushTimer: ReturnType<typeof setImmediate> | undefined;
  private closed = false;
  private pending = 0;
  private readonly heartbeatMs: number;
  private readonly genKey: (epoch: number) => DataKey;
  private knownRole: Role = 'manager';
  readonly stats: ManagerStats = { connections: 0, badConnections: 0, refusedJoins: 0 };
  /** Every rotation this process performed (tests check "never twice"). */
  readonly rotations: number[] = [];

  private constructor(opts: ManagerOptions, cfg: LocalConfig) {
    this.opts = opts;
    this.cfg = cfg;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLogger;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.genKey = opts.generateKey ?? generateDataKey;
    this.view = new ClusterView(opts.cluster, opts.blocks, (c, rev) => this.changed(c, rev), this.log);
    this.writes = new Writes({ store: opts.cluster, view: this.view, now: this.now, lease: () => this.presence?.lease ?? 0, storeName: storeName(opts.storeConfig.URL) });
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Creates a new swarm in an empty cluster store with this node as its first manager. */
  static async init(opts: ManagerOptions, p: InitParams): Promise<Manager> {
    const now = (opts.now ?? Date.now)();
    const gen = opts.generateKey ?? generateDataKey;
    const where = storeName(opts.storeConfig.URL);
    S.checkDefaultPools(p.defaultAddrPool ?? S.DEFAULT_ADDR_POOL, p.subnetSize ?? S.DEFAULT_SUBNET_SIZE);
    const existing = await opts.cluster.range('weft/', { limit: 1 });
    if (existing.kvs.length > 0) {
      const f = await opts.cluster.get(K.format);
      const owner = f === undefined ? undefined : (JSON.parse(new TextDecoder().decode(f.value)) as { ClusterID?: string }).ClusterID;
      raise(errors.conflict(S.PLUGIN, owner !== undefined
        ? `The cluster store ${where} already holds swarm ${owner}; refusing to create another one over it`
        : `The cluster store ${where} holds keys under weft/ that this swarm did not write (e.g. ${existing.kvs[0]!.key}); refusing to overwrite them`, {
        code: S.Codes.alreadyInSwarm,
        value: where,
        hint: owner !== undefined ? 'Join that swarm with a manager token ("weft swarm join --token ..."), or give an empty store.' : 'Give an empty store, or remove those keys if they are not needed.',
      }));
    }
    const kp = sodium.crypto_sign_keypair();
    const nodeKp = sodium.crypto_sign_keypair();
    const nodeId = newId();
    const clusterId = newId();
    const interval = p.rotationIntervalMs ?? S.DEFAULT_ROTATION_MS;
    const advertise = p.advertise ?? defaultAdvertise(p.host);
    const cfg: LocalConfig = {
      Version: 2,
      ClusterID: clusterId,
      NodeID: nodeId,
      NodeKey: { PublicKey: toB64(nodeKp.publicKey), SecretKey: toB64(nodeKp.privateKey) },
      BindAddr: joinHostPort(p.host, p.port),
      ListenAddr: joinHostPort(advertise, p.port),
      Store: opts.storeConfig,
    };
    const m = new Manager(opts, cfg);
    await m.listen(p.host, p.port);
    const meta: MetaRecord = {
      ClusterID: clusterId,
      CreatedAt: new Date(now).toISOString(),
      ManagerKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) },
      Tokens: { worker: newSecret(), manager: newSecret() },
      DefaultAddrPool: [...(p.defaultAddrPool ?? S.DEFAULT_ADDR_POOL)],
      SubnetSize: p.subnetSize ?? S.DEFAULT_SUBNET_SIZE,
      StoreURL: opts.storeConfig.URL,
      Shared: opts.shared,
    };
    const info: JoinInfo = {
      Name: p.nodeName,
      Addr: advertise,
      PublicKey: cfg.NodeKey.PublicKey,
      Platform: p.platform,
      ListenAddr: m.cfg.ListenAddr,
      ...(p.gossipAddr !== undefined ? { GossipAddr: p.gossipAddr } : {}),
      ...(p.dataPathAddr !== undefined ? { DataPathAddr: p.dataPathAddr } : {}),
      ...(p.dataPathPort !== undefined ? { DataPathPort: p.dataPathPort } : {}),
    };
    const ring = S.initialRingState(now, interval, [gen(1), gen(2), gen(3)], [gen(1), gen(2), gen(3)]);
    try {
      const r = await opts.cluster.txn({
        compare: [{ key: K.format, target: 'createRevision', result: '=', value: 0 }],
        success: [
          { op: 'put', key: K.format, value: jsonValue({ Format: FORMAT, ClusterID: clusterId }) },
          { op: 'put', key: K.meta, value: jsonValue(meta) },
          { op: 'put', key: K.ring, value: jsonValue(ring) },
          { op: 'put', key: K.fence, value: jsonValue({}) },
          { op: 'put', key: K.node(nodeId), value: jsonValue(S.newNodeRecord(nodeId, info, 'manager', now)) },
        ],
      });
      if (!r.succeeded) raise(errors.conflict(S.PLUGIN, `Another manager created a swarm in the cluster store ${where} at the same moment`, { code: S.Codes.alreadyInSwarm, value: where }));
      await putJson(opts.local, LOCAL_KEY, m.cfg);
      await m.start();
    } catch (e) {
      await m.close();
      throw e;
    }
    return m;
  }

  /** Resumes this host's manager from its local config; undefined when it has none. */
  static async open(opts: ManagerOptions): Promise<Manager | undefined> {
    const cfg = await Manager.readConfig(opts.local);
    if (cfg === undefined) return undefined;
    const m = new Manager(opts, cfg);
    try {
      const hp = splitHostPort(cfg.BindAddr, 2377);
      await m.start(hp?.host ?? '127.0.0.1', hp?.port ?? 2377);
    } catch (e) {
      await m.close();
      throw e;
    }
    return m;
  }

  static async readConfig(local: Store): Promise<LocalConfig | undefined> {
    const raw = await getJson<unknown>(local, LOCAL_KEY);
    if (raw === undefined) return undefined;
    const r = LocalConfig.decode(raw);
    if (isLeft(r)) raise(errors.internal(S.PLUGIN, 'The stored manager config (manager/local) does not decode; refusing to start the manager on it', { hint: 'Restore the state dir from a backup.' }));
    return (r as { right: LocalConfig }).right;
  }

  /** Becomes a manager of an existing swarm (joined with a manager token, or promoted). */
  static async join(opts: ManagerOptions, p: JoinParams): Promise<Manager> {
    const cfg: LocalConfig = {
      Version: 2,
      ClusterID: p.clusterId,
      NodeID: p.nodeId,
      NodeKey: p.nodeKey,
      BindAddr: joinHostPort(p.host, p.port),
      ListenAddr: joinHostPort(p.advertise, p.port),
      Store: opts.storeConfig,
    };
    const m = new Manager(opts, cfg);
    try {
      await m.start(p.host, p.port);
      await m.writes.updateNode(p.nodeId, (n) => ({ ...n, ListenAddr: m.cfg.ListenAddr, Left: false }));
      await putJson(opts.local, LOCAL_KEY, m.cfg);
    } catch (e) {
      await m.close();
      throw e;
    }
    return m;
  }

  /** Loads the view, checks the store holds this swarm, listens (unless listening), registers. */
  private async start(host?: string, port?: number): Promise<void> {
    const where = storeName(this.opts.storeConfig.URL);
    await this.view.start();
    const f = this.view.format;
    if (f === undefined || this.view.meta === undefined || this.view.ring === undefined) {
      raise(errors.unavailable(S.PLUGIN, `The cluster store ${where} holds no swarm state (weft/format, weft/meta or weft/ring is missing): it is not the store this manager used, or it was wiped`, {
        value: where,
        hint: 'Point --cluster-store at the right store, or leave the swarm ("weft swarm leave --force") and create a new one.',
      }));
    }
    if (f!.Format > FORMAT) {
      raise(errors.unavailable(S.PLUGIN, `The cluster store ${where} was written by a newer Weft (state format ${f!.Format}; this agent reads ${FORMAT}); refusing to run on it so nothing is overwritten`, { value: f!.Format, hint: 'Upgrade this agent.' }));
    }
    if (f!.ClusterID !== this.cfg.ClusterID) {
      raise(errors.conflict(S.PLUGIN, `The cluster store ${where} holds swarm ${f!.ClusterID}, not ${this.cfg.ClusterID} that this manager belongs to`, { value: where, hint: 'Point --cluster-store at the store of this swarm.' }));
    }
    if (!this.view.nodes.has(this.cfg.NodeID)) {
      raise(errors.forbidden(S.PLUGIN, `This manager (node ${this.cfg.NodeID}) is no longer a member of swarm ${this.cfg.ClusterID} (it was removed)`, { code: S.Codes.nodeRemoved, hint: 'Run "weft swarm leave --force", then join again with a current token.' }));
    }
    if (host !== undefined && port !== undefined && this.server === undefined) await this.listen(host, port);
    this.presence = new Presence({
      store: this.opts.cluster,
      view: this.view,
      nodeId: this.cfg.NodeID,
      addr: this.cfg.ListenAddr,
      log: this.log,
      now: this.now,
      ...(this.opts.leaseTtlSeconds !== undefined ? { ttlSeconds: this.opts.leaseTtlSeconds } : {}),
      onLeader: (l) => this.leaderChanged(l),
      onNewLease: async () => {
        for (const s of this.sessions) await this.writes.openSession(s.nodeId, this.cfg.NodeID).catch(() => undefined);
      },
    });
    await this.presence.start();
    this.opts.onSnapshot?.(this.snapshot());
  }

  get nodeId(): string {
    return this.cfg.NodeID;
  }
  get clusterId(): string {
    return this.cfg.ClusterID;
  }
  get config(): LocalConfig {
    return this.cfg;
  }
  get meta(): MetaRecord {
    return this.view.meta!.value;
  }
  get publicKey(): Uint8Array {
    return fromB64(this.meta.ManagerKey.PublicKey);
  }
  /** `host:port` nodes dial. */
  get address(): string {
    return this.cfg.ListenAddr;
  }
  get isLeader(): boolean {
    return this.presence?.leader ?? false;
  }
  get leaderId(): string | undefined {
    return this.view.leader?.NodeID;
  }
  get store(): ClusterStore {
    return this.opts.cluster;
  }
  /** The store's URL without credentials, for messages and `info`. */
  get storeName(): string {
    return storeName(this.opts.storeConfig.URL);
  }

  /** Every manager's address, live ones first (what nodes dial). */
  managerAddrs(): string[] {
    const live = [...this.view.managers.values()];
    const known = [...this.view.nodes.values()].filter((n) => n.value.Role === 'manager' && !n.value.Left).map((n) => n.value.ListenAddr ?? `${n.value.Addr}:2377`);
    return [...new Set([this.cfg.ListenAddr, ...live, ...known])];
  }

  snapshot(): Snapshot {
    return S.snapshot(this.view.seq, [...this.view.networks.values()].map((n) => n.value), this.view.ring!.value, [...this.view.nodes.values()].map((n) => n.value), this.managerAddrs());
  }

  private changed(changes: ReadonlySet<Change>, _revision: number): void {
    if (this.closed) return;
    if (snapshotChanged(changes)) this.schedulePush();
    if (changes.has('leader')) this.presence?.leaderChanged();
    if (changes.has('ring') && this.isLeader) this.scheduleRotation();
    if (changes.has('nodes')) this.nodesChanged();
  }

  /** Closes sessions of removed nodes; tells nodes whose role changed; notices our own demotion. */
  private nodesChanged(): void {
    const self = this.view.nodes.get(this.cfg.NodeID)?.value;
    if (self === undefined) {
      if (this.view.format !== undefined) this.opts.onSelfChanged?.('removed');
    } else if (self.Role !== this.knownRole) {
      this.knownRole = self.Role;
      if (self.Role === 'worker') this.opts.onSelfChanged?.('demoted');
    }
    for (const s of this.sessions) {
      const n = this.view.nodes.get(s.nodeId)?.value;
      if (n === undefined) {
        s.conn.close();
        continue;
      }
      if (n.Role !== s.role) {
        s.role = n.Role;
        this.send(s.conn, n.Role === 'manager' ? { t: 'role', Role: 'manager', Store: this.meta.StoreURL } : { t: 'role', Role: 'worker' });
      }
    }
  }

  private schedulePush(): void {
    if (this.pushTimer !== undefined) return;
    this.pushTimer = setImmediate(() => {
      this.pushTimer = undefined;
      this.broadcast();
    });
  }

  private broadcast(): void {
    if (this.closed || this.view.ring === undefined) return;
    const snap = this.snapshot();
    for (const s of this.sessions) this.send(s.conn, { t: 'push', p: snap });
    try {
      this.opts.onSnapshot?.(snap);
    } catch (e) {
      this.log.warn('local snapshot handler failed', { error: String(e) });
    }
  }

  private leaderChanged(leader: boolean): void {
    if (leader) this.scheduleRotation();
    else if (this.rotationTimer !== undefined) {
      clearTimeout(this.rotationTimer);
      this.rotationTimer = undefined;
    }
    try {
      this.opts.onLeader?.(leader);
    } catch (e) {
      this.log.warn('leader handler failed', { error: String(e) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Serving

  private async listen(host: string, port: number): Promise<void> {
    const server = net.createServer((sock) => {
      this.stats.connections++;
      sock.on('error', () => {});
      if (this.closed) {
        sock.destroy();
        return;
      }
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
      if (this.pending >= MAX_PENDING_HANDSHAKES) {
        this.stats.badConnections++;
        sock.destroy();
        return;
      }
      this.pending++;
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          this.pending--;
        }
      };
      void this.accept(sock, release)
        .catch((e) => this.bad(undefined, e instanceof Error ? e.message : String(e)))
        .finally(release);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(errors.unavailable(S.PLUGIN, `Cannot listen on ${joinHostPort(host, port)}: ${e.message}`, { value: joinHostPort(host, port) })));
      server.listen(port, host, () => resolve());
    });
    server.on('error', (e) => this.log.error('control listener failed', { error: e.message }));
    this.server = server;
    const addr = server.address() as net.AddressInfo;
    const shownHost = splitHostPort(this.cfg.ListenAddr, port)?.host ?? host;
    this.cfg = { ...this.cfg, ListenAddr: joinHostPort(shownHost, addr.port), BindAddr: joinHostPort(host, addr.port) };
  }

  private send(conn: Conn, msg: unknown): void {
    try {
      conn.send(msg);
    } catch (e) {
      this.log.error('could not send to a node; closing its session', { error: String(e) });
      conn.destroy();
    }
  }

  private bad(conn: Conn | undefined, why: string): void {
    this.stats.badConnections++;
    this.log.debug('dropped a control connection', { why });
    conn?.destroy();
  }

  private refuse(conn: Conn, err: ReturnType<typeof errors.forbidden>): void {
    this.stats.refusedJoins++;
    conn.send({ t: 'refused', err: toWire(err) });
    conn.close();
  }

  private async accept(sock: net.Socket, authenticated: () => void): Promise<void> {
    let conn: Conn;
    const meta = this.meta;
    try {
      conn = (await acceptChannel(sock, { publicKey: fromB64(meta.ManagerKey.PublicKey), secretKey: fromB64(meta.ManagerKey.SecretKey) })).conn;
    } catch (e) {
      this.bad(undefined, e instanceof Error ? e.message : String(e));
      return;
    }
    let session: Session;
    try {
      const auth = AuthMsg.decode(await conn.receive(HANDSHAKE_TIMEOUT_MS));
      if (isLeft(auth)) return this.bad(conn, 'bad auth frame');
      const a = auth.right;
      if (a.mode === 'token') {
        const proof = fromB64(a.proof);
        const tokens = this.meta.Tokens;
        const expect = (secret: string) => sodium.crypto_generichash(32, concat(LABEL_JOIN, conn.transcript), secretKey(secret));
        const role: Role | undefined =
          proof.length === 32 && sodium.memcmp(proof, expect(tokens.worker)) ? 'worker' : proof.length === 32 && sodium.memcmp(proof, expect(tokens.manager)) ? 'manager' : undefined;
        if (role === undefined) {
          return this.refuse(conn, errors.forbidden(S.PLUGIN, 'The join token secret is wrong: the manager accepts neither its worker nor its manager secret (it was mistyped, or rotated with "weft swarm join-token --rotate")', {
            code: S.Codes.wrongSecret,
            hint: 'Ask a manager for the current token: weft swarm join-token worker',
          }));
        }
        if (role === 'manager' && !this.meta.Shared) {
          return this.refuse(conn, errors.forbidden(S.PLUGIN, `This swarm keeps its state in the embedded store of its manager (${this.storeName}), which other hosts cannot share, so it has exactly one manager; for several managers create the swarm with --cluster-store etcd://HOST:2379,...`, {
            code: S.Codes.storeNotShared,
            hint: 'For several managers, create the swarm on a shared store: "weft swarm init --cluster-store etcd://HOST1:2379,HOST2:2379,HOST3:2379". Join this one as a worker meanwhile.',
          }));
        }
        const id = newId();
        await this.writes.addNode(S.newNodeRecord(id, a.join, role, this.now()));
        session = { conn, nodeId: id, role };
      } else {
        const node = this.view.nodes.get(a.node)?.value;
        const ok = node !== undefined && sodium.crypto_sign_verify_detached(fromB64(a.sig), concat(LABEL_NODE, conn.transcript), fromB64(node.PublicKey));
        if (!ok) {
          return this.refuse(conn, node === undefined
            ? errors.forbidden(S.PLUGIN, `Node ${a.node} is not a member of this swarm (it was removed with "weft node rm")`, { code: S.Codes.nodeRemoved, hint: 'Run "weft swarm leave --force" on it, then join again with a current token.' })
            : errors.forbidden(S.PLUGIN, `Node ${a.node} failed to prove its identity (signature does not verify with its registered key)`, { code: S.Codes.nodeRemoved }));
        }
        if (node!.Left) await this.writes.updateNode(node!.ID, (n) => ({ ...n, Left: false, UpdatedAt: new Date(this.now()).toISOString() }));
        session = { conn, nodeId: node!.ID, role: node!.Role };
      }
    } catch (e) {
      return this.bad(conn, e instanceof Error ? e.message : String(e));
    }
    authenticated();
    conn.setReadLimit(FRAME_READ_LIMIT);
    this.sessions.add(session);
    this.lastSeen.set(session.nodeId, this.now());
    void this.writes.openSession(session.nodeId, this.cfg.NodeID).catch((e) => this.log.debug('recording a session failed', { error: String(e) }));
    this.send(conn, {
      t: 'welcome',
      NodeID: session.nodeId,
      Role: session.role,
      ClusterID: this.cfg.ClusterID,
      ManagerPublicKey: this.meta.ManagerKey.PublicKey,
      Snapshot: this.snapshot(),
      ...(session.role === 'manager' ? { Store: this.meta.StoreURL } : {}),
    });
    const why = await conn.loop((raw) => this.dispatch(session, raw));
    this.sessions.delete(session);
    if (![...this.sessions].some((s) => s.nodeId === session.nodeId)) {
      void this.writes.closeSession(session.nodeId, this.cfg.NodeID).catch(() => undefined);
    }
    if (/authentication|JSON|length|unread/.test(why)) this.stats.badConnections++;
  }

  private async dispatch(session: Session, raw: unknown): Promise<void> {
    const r = RpcRequest.decode(raw);
    if (isLeft(r)) throw new Error('not an RPC request');
    const { id, m, p } = r.right;
    this.lastSeen.set(session.nodeId, this.now());
    const fail = (e: unknown) => {
      try {
        session.conn.send({ t: 'res', id, err: toWire(fromUnknown(S.PLUGIN, e, m)) });
      } catch {
        session.conn.destroy();
      }
    };
    void this.call(session, m, p).then((ok) => {
      try {
        session.conn.send({ t: 'res', id, ok: ok ?? {} });
      } catch (e) {
        fail(e);
      }
    }, fail);
  }

  private async call(session: Session, m: string, p: unknown): Promise<unknown> {
    const node = session.nodeId;
    switch (m) {
      case 'Heartbeat':
        return {};
      case 'Sync':
        return this.snapshot();
      case 'Leave':
        await this.writes.updateNode(node, (n) => ({ ...n, Left: true, UpdatedAt: new Date(this.now()).toISOString() }));
        setTimeout(() => session.conn.close(), 20);
        return {};
      case 'Network.Attach':
      case 'Network.Detach': {
        const req = decodeOr(AttachRequest, p, m);
        const input = { ...req, Node: node };
        if (this.opts.invokeAttach !== undefined) return this.opts.invokeAttach(m, input);
        return m === 'Network.Attach' ? this.attach(input) : this.detach(input);
      }
      case 'Blocks.Request':
        return this.requestBlock(node, decodeOr(BlockRequestMsg, p, m));
      case 'Blocks.Release':
        return this.releaseBlock(node, decodeOr(BlockReleaseMsg, p, m));
      case 'Network.List':
        return this.listNetworks();
      case 'Network.Inspect':
        return this.inspectNetwork(decodeOr(NetworkRef, p, m).Network);
    }
    if (session.role !== 'manager') raise(errors.forbidden(S.PLUGIN, S.NOT_A_MANAGER, { code: S.Codes.notManager }));
    switch (m) {
      case 'Network.Create':
        return this.createNetwork(decodeOr(NetworkCreateRequest, p, m));
      case 'Network.Remove':
        return this.removeNetwork(decodeOr(NetworkRef, p, m).Network);
      case 'Node.List':
        return this.listNodes();
      case 'Node.Inspect':
        return this.inspectNode(decodeOr(NodeRef, p, m).Node);
      case 'Node.Remove': {
        const q = decodeOr(NodeRemoveRequest, p, m);
        return this.removeNode(q.Node, q.Force ?? false);
      }
      case 'Node.Promote':
        return this.setRole(decodeOr(NodeRef, p, m).Node, 'manager');
      case 'Node.Demote':
        return this.setRole(decodeOr(NodeRef, p, m).Node, 'worker');
      case 'Swarm.JoinToken': {
        const q = decodeOr(JoinTokenRequest, p, m);
        return { Token: await this.joinToken(q.Role, q.Rotate ?? false) };
      }
      case 'Swarm.RotateKeys':
        decodeOr(Empty, p ?? {}, m);
        return this.rotateKeys();
    }
    return raise(errors.notImplemented(S.PLUGIN, `The manager does not know the method "${m}"`, { value: m }));
  }

  // -------------------------------------------------------------------------------------------
  // Reads (from the view) and writes (transactions, writes.ts)

  private guardOpen(): void {
    if (this.closed) raise(errors.unavailable(S.PLUGIN, 'The manager is shutting down', { code: S.Codes.noManager }));
  }

  private withAttachments(n: NetworkRecord): NetworkRecord {
    return { ...n, Attachments: this.view.attachmentsOf(n.Id) };
  }

  private networksById(): Record<string, NetworkRecord> {
    return Object.fromEntries([...this.view.networks].map(([id, v]) => [id, v.value]));
  }

  createNetwork(req: t.TypeOf<typeof NetworkCreateRequest>): Promise<{ Id: string }> {
    this.guardOpen();
    return this.writes.createNetwork((nets) => S.createNetwork({ Networks: nets, DefaultAddrPool: this.meta.DefaultAddrPool, SubnetSize: this.meta.SubnetSize }, req, newId(), this.now(), this.view.vnis));
  }

  removeNetwork(ref: string): Promise<Record<string, never>> {
    this.guardOpen();
    const n = S.getNetwork(this.networksById(), ref);
    return this.writes.removeNetwork(n, (node) => this.view.nodes.get(node)?.value.Name ?? node);
  }

  /**
   * Without attachments, as on workers (their snapshot carries none): the engine lists networks
   * on every attach, and 10,000 sorted attachments per call made an attach O(N). Inspect has them.
   */
  listNetworks(): NetworkRecord[] {
    return [...this.view.networks.values()].map((n) => ({ ...n.value, Attachments: {} })).sort((a, b) => a.Name.localeCompare(b.Name));
  }

  inspectNetwork(ref: string): NetworkRecord {
    return this.withAttachments(S.getNetwork(this.networksById(), ref));
  }

  findNetwork(ref: string): NetworkRecord | undefined {
    return S.findNetwork(this.networksById(), ref);
  }

  /** Records a sandbox on a network: one key. Answers with the network's definition. */
  async attach(req: AttachRequest): Promise<NetworkRecord> {
    this.guardOpen();
    const node = req.Node ?? this.cfg.NodeID;
    const n = S.getNetwork(this.networksById(), req.Network);
    if (!this.view.hasAttachment(n.Id, node, req.Sandbox)) {
      // A node's first sandbox on the network: its underlay family must be the network's.
      const attached = this.view.attachedNodes(n.Id);
      const self = attached.has(node) ? undefined : this.view.nodes.get(node)?.value;
      if (self !== undefined) {
        const others = [...attached.keys()].map((id) => this.view.nodes.get(id)?.value).filter((x): x is NodeRecord => x !== undefined);
        const bad = S.underlayFamilyConflict(n, self, others);
        if (bad !== undefined) raise(bad);
      }
      await this.writes.attach(n, node, req.Sandbox);
    }
    return { ...n, Attachments: {} };
  }

  async detach(req: AttachRequest): Promise<NetworkRecord> {
    this.guardOpen();
    const node = req.Node ?? this.cfg.NodeID;
    const n = S.getNetwork(this.networksById(), req.Network);
    await this.writes.detach(n.Id, node, req.Sandbox);
    return { ...n, Attachments: {} };
  }

  /** Gossip's word, else: self ready; a live manager ready; a node with a session to any manager ready. */
  nodeStatus(n: NodeRecord): string {
    if (n.Left) return 'left';
    const hook = this.opts.statusHook?.(n);
    if (hook !== undefined) return hook;
    if (n.ID === this.cfg.NodeID) return 'ready';
    if (n.Role === 'manager' && this.view.managers.has(n.ID)) return 'ready';
    const local = [...this.sessions].some((s) => s.nodeId === n.ID && !s.conn.closed);
    const seen = this.lastSeen.get(n.ID);
    if (local && seen !== undefined && this.now() - seen <= 3 * this.heartbeatMs) return 'ready';
    if (!local && this.view.sessions.has(n.ID)) return 'ready';
    return 'down';
  }

  private view_(n: NodeRecord): NodeView {
    return S.nodeView(n, this.nodeStatus(n), this.view.leader?.NodeID, n.ID === this.cfg.NodeID || this.view.managers.has(n.ID));
  }

  listNodes(): NodeView[] {
    return [...this.view.nodes.values()]
      .map((n) => this.view_(n.value))
      .sort((a, b) => a.Description.Hostname.localeCompare(b.Description.Hostname) || a.ID.localeCompare(b.ID));
  }

  nodeRecord(ref: string): NodeRecord {
    return S.findNode(new Map([...this.view.nodes].map(([id, v]) => [id, v.value])), ref, this.cfg.NodeID);
  }

  inspectNode(ref: string): NodeView {
    return this.view_(this.nodeRecord(ref));
  }

  /** Removes a node: its attachments and IPAM blocks are reclaimed, its sessions closed. */
  async removeNode(ref: string, force: boolean): Promise<Record<string, never>> {
    this.guardOpen();
    const n = this.nodeRecord(ref);
    if (n.ID === this.cfg.NodeID) {
      raise(errors.forbidden(S.PLUGIN, `Node "${n.Name}" (${n.ID}) is this manager and cannot remove itself`, { value: ref, hint: 'Run the command on another manager, or "weft swarm leave --force" here.' }));
    }
    if (n.Role === 'manager' && !n.Left) {
      raise(errors.conflict(S.PLUGIN, `Node "${n.Name}" (${n.ID}) is a cluster manager; it must be demoted to worker before removal`, { value: ref, hint: `Run "weft node demote ${n.Name}" first.` }));
    }
    if (!force && !n.Left && this.nodeStatus(n) === 'ready') {
      raise(errors.conflict(S.PLUGIN, `Node "${n.Name}" (${n.ID}) is not down and can't be removed; use --force, or run "weft swarm leave" on it first`, { value: ref }));
    }
    await this.writes.removeNode(n.ID, this.opts.blocks);
    for (const s of this.sessions) if (s.nodeId === n.ID) s.conn.close();
    this.lastSeen.delete(n.ID);
    return {};
  }

  /** `node promote` / `node demote`. The last manager cannot be demoted. */
  async setRole(ref: string, role: Role): Promise<Record<string, never>> {
    this.guardOpen();
    const n = this.nodeRecord(ref);
    if (n.Role === role) return {};
    if (role === 'manager' && !this.meta.Shared) {
      raise(errors.forbidden(S.PLUGIN, `Cannot promote "${n.Name}": this swarm keeps its state in the embedded store of its manager (${this.storeName}), which other hosts cannot share`, {
        code: S.Codes.storeNotShared,
        value: ref,
        hint: 'A swarm with several managers needs a shared store: "weft swarm init --cluster-store etcd://HOST1:2379,...".',
      }));
    }
    if (role === 'worker') {
      const managers = [...this.view.nodes.values()].filter((x) => x.value.Role === 'manager' && !x.value.Left);
      if (managers.length <= 1) raise(errors.conflict(S.PLUGIN, `Cannot demote "${n.Name}": it is the last manager of the swarm`, { value: ref, hint: 'Promote another node first.' }));
    }
    await this.writes.updateNode(n.ID, (x) => ({ ...x, Role: role, UpdatedAt: new Date(this.now()).toISOString() }));
    return {};
  }

  async joinToken(role: Role, rotate: boolean): Promise<string> {
    if (rotate) await this.writes.rotateToken(role, newSecret());
    return formatToken(this.publicKey, this.meta.Tokens[role]);
  }

  blocksOf(node: string): { key: string; blocks: string[] }[] {
    return this.opts.blocks.blocksOf(node);
  }

  private poolKey(req: { Network: string; Subnet?: string }): { net: NetworkRecord; key: string } {
    const n = S.getNetwork(this.networksById(), req.Network);
    const i = req.Subnet === undefined ? 0 : n.Subnets.findIndex((s) => s.Subnet === req.Subnet);
    if (i < 0 || n.Subnets[i] === undefined) raise(errors.notFound(S.PLUGIN, `Network "${n.Name}" has no subnet ${req.Subnet ?? ''}`.trim(), { value: req.Subnet }));
    return { net: n, key: `${n.Id}/${i}` };
  }

  async requestBlock(node: string, req: { Network: string; Subnet?: string }): Promise<{ Block: string }> {
    this.guardOpen();
    const { net, key } = this.poolKey(req);
    return { Block: await this.writes.grantBlock(net.Id, key, node, this.opts.blocks) };
  }

  async releaseBlock(node: string, req: { Network: string; Block: string }): Promise<Record<string, never>> {
    this.guardOpen();
    const n = S.getNetwork(this.networksById(), req.Network);
    const i = n.Subnets.findIndex((_, k) => this.opts.blocks.blocksOf(node).some((b) => b.key === `${n.Id}/${k}` && b.blocks.includes(req.Block)));
    await this.writes.releaseBlock(`${n.Id}/${Math.max(i, 0)}`, node, req.Block, this.opts.blocks);
    return {};
  }

  // -------------------------------------------------------------------------------------------
  // Key rotation (the leader's duty)

  ringInfo(): KeyRingInfo {
    return S.ringInfo(this.view.ring!.value);
  }

  /** Manual rotation (any manager), or the leader's timer (with the rotation it saw). */
  async rotateKeys(expected?: number): Promise<KeyRingInfo> {
    this.guardOpen();
    const ring = await this.writes.rotateRing((r) => {
      const want = expected ?? r.Rotation;
      const epoch = Math.max(...r.Keys.map((k) => k.Epoch), 0) + 1;
      return S.rotateRing(r, this.now(), this.genKey(epoch), this.genKey(epoch), want);
    });
    if (ring.changed) this.rotations.push(ring.ring.Rotation);
    return S.ringInfo(ring.ring);
  }

  /** Arms the timer from the persisted `NextRotationAt` (leader only). */
  private scheduleRotation(): void {
    if (this.rotationTimer !== undefined) clearTimeout(this.rotationTimer);
    this.rotationTimer = undefined;
    if (this.closed || !this.isLeader || this.view.ring === undefined) return;
    const delay = Math.max(0, this.view.ring.value.NextRotationAt - this.now());
    this.rotationTimer = setTimeout(() => {
      this.rotationTimer = undefined;
      if (this.closed || !this.isLeader) return;
      const ring = this.view.ring!.value;
      if (this.now() < ring.NextRotationAt) return this.scheduleRotation();
      this.rotateKeys(ring.Rotation).catch((e) => {
        this.log.error('key rotation failed; retrying in 10 s', { error: String(e) });
        this.rotationTimer = setTimeout(() => this.scheduleRotation(), 10_000);
        this.rotationTimer.unref?.();
      });
    }, Math.min(delay, 2 ** 31 - 1));
    this.rotationTimer.unref?.();
  }

  /** Stops serving; gives up the lease (and leadership) at once. Does not close the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rotationTimer !== undefined) clearTimeout(this.rotationTimer);
    if (this.pushTimer !== undefined) clearImmediate(this.pushTimer);
    for (const s of this.sessions) s.conn.destroy();
    this.sessions.clear();
    // A connection still in its handshake, or one refused and half-closed, is no session yet: it
    // would keep server.close from ever calling back (a node reconnecting during a demotion).
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.presence?.stop();
    this.view.close();
  }
}
