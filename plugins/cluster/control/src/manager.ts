/**
 * The manager: owns the ClusterState, persists every change through a kernel `Store` before it
 * answers, serves the control channel on TCP, pushes snapshots to connected nodes, and rotates
 * the key ring on a persisted schedule.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { errors, fromUnknown, getJson, putJson, raise, silentLogger, type BlockAllocator, type DataKey, type Logger, type Store } from '@weft/kernel';
import { generateDataKey } from '@weft/kernel';
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
import { loadBlocks, saveBlocks } from './blocks.ts';
import { decodeOr, toWire } from './rpc.ts';
import * as S from './state.ts';
import { formatToken, newSecret, secretKey } from './token.ts';
import { concat, fromB64, joinHostPort, newId, sodium, toB64 } from './util.ts';
import { VniBitmap } from './vni.ts';

const STATE_KEY = 'cluster';

/** A wildcard bind advertises the first non-internal IPv4 address (Docker asks; we guess, then loopback). */
export function defaultAdvertise(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}
export const DEFAULT_HEARTBEAT_MS = 5000;
/** Connections still in the handshake or authentication; more are dropped at once. */
export const MAX_PENDING_HANDSHAKES = 128;

export interface ManagerOptions {
  /** Where the manager keeps its state (the control plugin passes `ctx.store.scope('manager')`). */
  readonly store: Store;
  readonly now?: () => number;
  readonly log?: Logger;
  readonly heartbeatMs?: number;
  /** The address-block allocator (the kernel's `blocks` contract; the control plugin takes it from the `blocks` service). */
  readonly blocks: BlockAllocator;
  /** Gossip's view of a node (`alive`, `suspect`, `dead`, ...); undefined → connection-based status. */
  readonly statusHook?: (node: NodeRecord) => string | undefined;
  /**
   * Routes a node's Network.Attach/Detach through the local kernel (so guards apply) before the
   * manager records it; default: straight to the manager.
   */
  readonly invokeAttach?: (method: 'Network.Attach' | 'Network.Detach', input: AttachRequest) => Promise<unknown>;
  /** Called with every new snapshot (the manager's own node applies networks and keys from it). */
  readonly onSnapshot?: (s: Snapshot) => void;
  /** Generates data-path and gossip keys (tests may inject). */
  readonly generateKey?: (epoch: number) => DataKey;
}

export interface InitParams {
  readonly host: string;
  readonly port: number;
  /** Address other nodes dial (default host:port, or 127.0.0.1 when host is a wildcard). */
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

interface Session {
  readonly conn: Conn;
  nodeId: string;
  role: Role;
}

export interface ManagerStats {
  connections: number;
  /** Connections dropped for a protocol violation: bad magic, garbage, failed auth frame, ... */
  badConnections: number;
  refusedJoins: number;
}

export class Manager {
  private state: S.ClusterState;
  private readonly store: Store;
  private readonly blockStore: Store;
  private readonly opts: ManagerOptions;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly vnis = new VniBitmap();
  private readonly blocks: BlockAllocator;
  private readonly sessions = new Set<Session>();
  private readonly lastSeen = new Map<string, number>();
  private server: net.Server | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private rotationTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private pending = 0;
  private readonly heartbeatMs: number;
  private readonly genKey: (epoch: number) => DataKey;
  readonly stats: ManagerStats = { connections: 0, badConnections: 0, refusedJoins: 0 };
  /** Every rotation this process performed (tests check "never twice"). */
  readonly rotations: number[] = [];

  private constructor(opts: ManagerOptions, state: S.ClusterState, blocks: BlockAllocator) {
    this.opts = opts;
    this.store = opts.store;
    this.blockStore = opts.store.scope('blocks');
    this.state = state;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLogger;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.genKey = opts.generateKey ?? generateDataKey;
    this.blocks = blocks;
    S.rebuildVnis(state, this.vnis);
  }

  /** Creates a new cluster with this node as its manager, persists it, and starts serving. */
  static async init(opts: ManagerOptions, p: InitParams): Promise<Manager> {
    const now = (opts.now ?? Date.now)();
    const gen = opts.generateKey ?? generateDataKey;
    const kp = sodium.crypto_sign_keypair();
    const nodeId = newId();
    const interval = p.rotationIntervalMs ?? S.DEFAULT_ROTATION_MS;
    const base: S.ClusterState = {
      Version: 1,
      ClusterID: newId(),
      CreatedAt: new Date(now).toISOString(),
      ManagerKey: { PublicKey: toB64(kp.publicKey), SecretKey: toB64(kp.privateKey) },
      NodeID: nodeId,
      ListenAddr: joinHostPort(p.advertise ?? defaultAdvertise(p.host), p.port),
      BindAddr: joinHostPort(p.host, p.port),
      Tokens: { worker: newSecret(), manager: newSecret() },
      Nodes: {},
      Networks: {},
      Ring: S.initialRingState(now, interval, [gen(1), gen(2), gen(3)], [gen(1), gen(2), gen(3)]),
      DefaultAddrPool: [...(p.defaultAddrPool ?? S.DEFAULT_ADDR_POOL)],
      SubnetSize: p.subnetSize ?? S.DEFAULT_SUBNET_SIZE,
      Seq: 0,
    };
    const info: JoinInfo = {
      Name: p.nodeName,
      Addr: p.advertise ?? defaultAdvertise(p.host),
      PublicKey: toB64(kp.publicKey),
      Platform: p.platform,
      ...(p.gossipAddr !== undefined ? { GossipAddr: p.gossipAddr } : {}),
      ...(p.dataPathAddr !== undefined ? { DataPathAddr: p.dataPathAddr } : {}),
      ...(p.dataPathPort !== undefined ? { DataPathPort: p.dataPathPort } : {}),
    };
    let state = S.addNode(base, nodeId, info, 'manager', now);
    state = { ...state, Nodes: { ...state.Nodes, [nodeId]: { ...state.Nodes[nodeId]!, Leader: true } } };
    const m = new Manager(opts, state, opts.blocks);
    await m.listen(p.host, p.port);
    await m.persist(m.state);
    m.scheduleRotation();
    return m;
  }

  /** Resumes a cluster from the store; undefined when the store holds none. */
  static async open(opts: ManagerOptions): Promise<Manager | undefined> {
    const raw = await getJson<unknown>(opts.store, STATE_KEY);
    if (raw === undefined) return undefined;
    const r = S.ClusterState.decode(raw);
    if (isLeft(r)) raise(errors.internal(S.PLUGIN, 'The stored cluster state does not decode; refusing to start the manager on it', { hint: 'Restore the state dir from a backup.' }));
    const state = (r as { right: S.ClusterState }).right;
    const blocks = opts.blocks;
    await loadBlocks(blocks, opts.store.scope('blocks'));
    // Reconcile with the cluster record (a crash may fall between the two writes): every subnet
    // has a block table, and tables of networks that no longer exist are dropped.
    const want = new Set<string>();
    for (const n of Object.values(state.Networks)) n.Subnets.forEach((sn, i) => {
      want.add(`${n.Id}/${i}`);
      blocks.addPool(`${n.Id}/${i}`, sn.Subnet);
    });
    const stale = (await opts.store.scope('blocks').keys()).filter((k) => !want.has(k));
    for (const k of stale) blocks.removePool(k);
    await saveBlocks(blocks, opts.store.scope('blocks'), stale);
    const m = new Manager(opts, state, blocks);
    const hp = /^(.*):(\d+)$/.exec(state.BindAddr);
    const host = (hp?.[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
    await m.listen(host, Number(hp?.[2] ?? 2377));
    m.scheduleRotation();
    return m;
  }

  get nodeId(): string {
    return this.state.NodeID;
  }
  get clusterId(): string {
    return this.state.ClusterID;
  }
  get publicKey(): Uint8Array {
    return fromB64(this.state.ManagerKey.PublicKey);
  }
  /** `host:port` nodes dial. */
  get address(): string {
    return this.state.ListenAddr;
  }
  get current(): S.ClusterState {
    return this.state;
  }

  snapshot(): Snapshot {
    return S.snapshot(this.state, [this.state.ListenAddr]);
  }

  // -------------------------------------------------------------------------------------------
  // Serving

  private async listen(host: string, port: number): Promise<void> {
    const server = net.createServer((sock) => {
      this.stats.connections++;
      sock.on('error', () => {});
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
    const shownHost = /^(.*):\d+$/.exec(this.state.ListenAddr)?.[1]?.replace(/^\[|\]$/g, '') ?? host;
    const listenAddr = joinHostPort(shownHost, addr.port);
    const bindAddr = joinHostPort(host, addr.port);
    if (listenAddr !== this.state.ListenAddr || bindAddr !== this.state.BindAddr) {
      const self = this.state.Nodes[this.state.NodeID];
      this.state = { ...this.state, ListenAddr: listenAddr, BindAddr: bindAddr, ...(self !== undefined ? { Nodes: { ...this.state.Nodes, [self.ID]: { ...self, ListenAddr: listenAddr } } } : {}) };
    }
  }

  /** Sends, or drops the connection when the message cannot be framed. */
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

  private async accept(sock: net.Socket, authenticated: () => void): Promise<void> {
    let conn: Conn;
    try {
      conn = (await acceptChannel(sock, { publicKey: this.publicKey, secretKey: fromB64(this.state.ManagerKey.SecretKey) })).conn;
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
        const expect = (secret: string) => sodium.crypto_generichash(32, concat(LABEL_JOIN, conn.transcript), secretKey(secret));
        const role: Role | undefined =
          proof.length === 32 && sodium.memcmp(proof, expect(this.state.Tokens.worker)) ? 'worker' : proof.length === 32 && sodium.memcmp(proof, expect(this.state.Tokens.manager)) ? 'manager' : undefined;
        if (role === undefined) {
          this.stats.refusedJoins++;
          conn.send({
            t: 'refused',
            err: toWire(errors.forbidden(S.PLUGIN, 'The join token secret is wrong: the manager accepts neither its worker nor its manager secret (it was mistyped, or rotated with "weft swarm join-token --rotate")', {
              code: S.Codes.wrongSecret,
              hint: 'Ask a manager for the current token: weft swarm join-token worker',
            })),
          });
          conn.close();
          return;
        }
        const id = newId();
        await this.commit((s) => ({ state: S.addNode(s, id, a.join, role, this.now()), result: undefined }));
        session = { conn, nodeId: id, role };
      } else {
        const node = this.state.Nodes[a.node];
        const ok = node !== undefined && sodium.crypto_sign_verify_detached(fromB64(a.sig), concat(LABEL_NODE, conn.transcript), fromB64(node.PublicKey));
        if (!ok) {
          this.stats.refusedJoins++;
          conn.send({
            t: 'refused',
            err: toWire(node === undefined
              ? errors.forbidden(S.PLUGIN, `Node ${a.node} is not a member of this swarm (it was removed with "weft node rm")`, { code: S.Codes.nodeRemoved, hint: 'Run "weft swarm leave --force" on it, then join again with a current token.' })
              : errors.forbidden(S.PLUGIN, `Node ${a.node} failed to prove its identity (signature does not verify with its registered key)`, { code: S.Codes.nodeRemoved })),
          });
          conn.close();
          return;
        }
        if (node.Left) await this.commit((s) => ({ state: { ...s, Nodes: { ...s.Nodes, [node.ID]: { ...node, Left: false, UpdatedAt: new Date(this.now()).toISOString() } }, Seq: s.Seq + 1 }, result: undefined }));
        session = { conn, nodeId: node.ID, role: node.Role };
      }
    } catch (e) {
      return this.bad(conn, e instanceof Error ? e.message : String(e));
    }
    authenticated();
    conn.setReadLimit(FRAME_READ_LIMIT);
    this.sessions.add(session);
    this.lastSeen.set(session.nodeId, this.now());
    this.send(conn, { t: 'welcome', NodeID: session.nodeId, Role: session.role, ClusterID: this.state.ClusterID, ManagerPublicKey: this.state.ManagerKey.PublicKey, Snapshot: this.snapshot() });
    const why = await conn.loop((raw) => this.dispatch(session, raw));
    this.sessions.delete(session);
    if (/authentication|JSON|length|unread/.test(why)) this.stats.badConnections++;
  }

  private async dispatch(session: Session, raw: unknown): Promise<void> {
    const r = RpcRequest.decode(raw);
    if (isLeft(r)) throw new Error('not an RPC request');
    const { id, m, p } = r.right;
    this.lastSeen.set(session.nodeId, this.now());
    // Answer asynchronously so a slow call does not hold up heartbeats behind it.
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
        fail(e); // e.g. a reply larger than one frame
      }
    }, fail);
  }

  private async call(session: Session, m: string, p: unknown): Promise<unknown> {
    const node = session.nodeId;
    const managerOnly = () => {
      if (session.role !== 'manager') raise(errors.forbidden(S.PLUGIN, S.NOT_A_MANAGER, { code: S.Codes.notManager }));
    };
    switch (m) {
      case 'Heartbeat':
        return {};
      case 'Sync':
        return this.snapshot();
      case 'Leave':
        await this.commit((s) => ({ state: S.markLeft(s, node, this.now()), result: undefined }));
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
    managerOnly();
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
  // State changes: one at a time, persisted before the caller hears back.

  private commit<R>(f: (s: S.ClusterState) => { state: S.ClusterState; result: R; after?: () => Promise<void> | void }): Promise<R> {
    const run = async (): Promise<R> => {
      if (this.closed) raise(errors.unavailable(S.PLUGIN, 'The manager is shutting down', { code: S.Codes.noManager }));
      const before = this.state;
      const { state, result, after } = f(before);
      if (state !== before) {
        await this.persist(state);
        this.state = state;
      }
      await after?.();
      if (state.Seq !== before.Seq) this.broadcast();
      return result;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async persist(s: S.ClusterState): Promise<void> {
    await putJson(this.store, STATE_KEY, s);
  }

  private broadcast(): void {
    const snap = this.snapshot();
    for (const s of this.sessions) {
      try {
        this.send(s.conn, { t: 'push', p: snap });
      } catch (e) {
        this.log.warn('push failed', { node: s.nodeId, error: String(e) });
      }
    }
    try {
      this.opts.onSnapshot?.(snap);
    } catch (e) {
      this.log.warn('local snapshot handler failed', { error: String(e) });
    }
  }

  createNetwork(req: t.TypeOf<typeof NetworkCreateRequest>): Promise<{ Id: string }> {
    return this.commit((s) => {
      const { state, network } = S.createNetwork(s, req, newId(), this.now(), this.vnis);
      for (const v of network.VNIs) this.vnis.set(v);
      const keys = network.Subnets.map((sn, i) => {
        const key = `${network.Id}/${i}`;
        this.blocks.addPool(key, sn.Subnet);
        return key;
      });
      return { state, result: { Id: network.Id }, after: () => saveBlocks(this.blocks, this.blockStore, keys) };
    });
  }

  removeNetwork(ref: string): Promise<Record<string, never>> {
    return this.commit((s) => {
      const { state, network } = S.removeNetwork(s, ref);
      for (const v of network.VNIs) this.vnis.clear(v);
      const keys = network.Subnets.map((_, i) => `${network.Id}/${i}`);
      for (const k of keys) this.blocks.removePool(k);
      return { state, result: {}, after: () => saveBlocks(this.blocks, this.blockStore, keys) };
    });
  }

  listNetworks(): NetworkRecord[] {
    return Object.values(this.state.Networks).sort((a, b) => a.Name.localeCompare(b.Name));
  }

  inspectNetwork(ref: string): NetworkRecord {
    return S.getNetwork(this.state.Networks, ref);
  }

  attach(req: AttachRequest): Promise<NetworkRecord> {
    const node = req.Node ?? this.state.NodeID;
    return this.commit((s) => {
      const r = S.attach(s, req.Network, node, req.Sandbox);
      return { state: r.state, result: r.network };
    });
  }

  detach(req: AttachRequest): Promise<NetworkRecord> {
    const node = req.Node ?? this.state.NodeID;
    return this.commit((s) => {
      const r = S.detach(s, req.Network, node, req.Sandbox);
      return { state: r.state, result: r.network };
    });
  }

  /** Connection/heartbeat status, unless the gossip hook knows better. */
  nodeStatus(n: NodeRecord): string {
    if (n.Left) return 'left';
    const hook = this.opts.statusHook?.(n);
    if (hook !== undefined) return hook;
    if (n.ID === this.state.NodeID) return 'ready';
    const connected = [...this.sessions].some((s) => s.nodeId === n.ID && !s.conn.closed);
    const seen = this.lastSeen.get(n.ID);
    return connected && seen !== undefined && this.now() - seen <= 3 * this.heartbeatMs ? 'ready' : 'down';
  }

  listNodes(): NodeView[] {
    return Object.values(this.state.Nodes)
      .map((n) => S.nodeView(this.state, n, this.nodeStatus(n)))
      .sort((a, b) => a.Description.Hostname.localeCompare(b.Description.Hostname) || a.ID.localeCompare(b.ID));
  }

  inspectNode(ref: string): NodeView {
    const n = S.findNode(this.state, ref);
    return S.nodeView(this.state, n, this.nodeStatus(n));
  }

  nodeRecord(ref: string): NodeRecord {
    return S.findNode(this.state, ref);
  }

  /** Removes a node: its attachments and IPAM blocks are reclaimed, its sessions closed. */
  removeNode(ref: string, force: boolean): Promise<Record<string, never>> {
    return this.commit((s) => {
      const { state, node } = S.removeNode(s, ref, force, (id) => this.nodeStatus(s.Nodes[id]!) === 'ready');
      const changed = this.blocks.reclaimNode(node.ID).map((x) => x.key);
      return {
        state,
        result: {},
        after: async () => {
          await saveBlocks(this.blocks, this.blockStore, changed);
          for (const sess of this.sessions) if (sess.nodeId === node.ID) sess.conn.close();
          this.lastSeen.delete(node.ID);
        },
      };
    });
  }

  async joinToken(role: Role, rotate: boolean): Promise<string> {
    if (rotate) await this.commit((s) => ({ state: S.rotateToken(s, role, newSecret()), result: undefined }));
    return formatToken(this.publicKey, this.state.Tokens[role]);
  }

  blocksOf(node: string): { key: string; blocks: string[] }[] {
    return this.blocks.blocksOf(node);
  }

  private subnetKey(req: { Network: string; Subnet?: string }): string {
    const n = S.getNetwork(this.state.Networks, req.Network);
    const i = req.Subnet === undefined ? 0 : n.Subnets.findIndex((s) => s.Subnet === req.Subnet);
    if (i < 0 || n.Subnets[i] === undefined) raise(errors.notFound(S.PLUGIN, `Network "${n.Name}" has no subnet ${req.Subnet ?? ''}`.trim(), { value: req.Subnet }));
    return `${n.Id}/${i}`;
  }

  requestBlock(node: string, req: { Network: string; Subnet?: string }): Promise<{ Block: string }> {
    return this.commit((s) => {
      const key = this.subnetKey(req);
      const block = this.blocks.grant(key, node);
      return { state: s, result: { Block: block }, after: () => saveBlocks(this.blocks, this.blockStore, [key]) };
    });
  }

  releaseBlock(node: string, req: { Network: string; Block: string }): Promise<Record<string, never>> {
    return this.commit((s) => {
      const n = S.getNetwork(this.state.Networks, req.Network);
      const i = n.Subnets.findIndex((_, k) => this.blocks.blocksOf(node).some((b) => b.key === `${n.Id}/${k}` && b.blocks.includes(req.Block)));
      const key = `${n.Id}/${Math.max(i, 0)}`;
      this.blocks.release(key, node, req.Block);
      return { state: s, result: {}, after: () => saveBlocks(this.blocks, this.blockStore, [key]) };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Key rotation

  ringInfo(): KeyRingInfo {
    return S.ringInfo(this.state.Ring);
  }

  /** Manual rotation (also what the timer does). */
  rotateKeys(expected?: number): Promise<KeyRingInfo> {
    return this.commit((s) => {
      const want = expected ?? s.Ring.Rotation;
      const epoch = Math.max(...s.Ring.Keys.map((k) => k.Epoch), 0) + 1;
      const next = S.rotateRing(s, this.now(), this.genKey(epoch), this.genKey(epoch), want);
      if (next !== s) this.rotations.push(next.Ring.Rotation);
      return { state: next, result: S.ringInfo(next.Ring), after: () => this.scheduleRotation() };
    });
  }

  /**
   * Arms the timer from the persisted `NextRotationAt`. A restart before it is due re-arms for
   * the remaining time; a restart after it rotates once (the rotation count guards replays).
   */
  private scheduleRotation(): void {
    if (this.rotationTimer !== undefined) clearTimeout(this.rotationTimer);
    if (this.closed) return;
    const delay = Math.max(0, this.state.Ring.NextRotationAt - this.now());
    this.rotationTimer = setTimeout(() => {
      this.rotationTimer = undefined;
      if (this.closed) return;
      const seen = this.state.Ring.Rotation;
      if (this.now() < this.state.Ring.NextRotationAt) return this.scheduleRotation();
      this.rotateKeys(seen).catch((e) => {
        this.log.error('key rotation failed; retrying in 10 s', { error: String(e) });
        this.rotationTimer = setTimeout(() => this.scheduleRotation(), 10_000);
        this.rotationTimer.unref?.();
      });
    }, Math.min(delay, 2 ** 31 - 1));
    this.rotationTimer.unref?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rotationTimer !== undefined) clearTimeout(this.rotationTimer);
    for (const s of this.sessions) s.conn.destroy();
    this.sessions.clear();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.queue.catch(() => undefined);
  }
}

