/**
 * The node side: joins with a token, then keeps a session to a manager authenticated by its own
 * node identity, caches the manager's snapshot (networks, key ring, gossip peers) durably, applies
 * pushes idempotently by sequence number and key-ring rotation, sends heartbeats, and reconnects
 * with backoff. Everything cached keeps working while no manager is reachable.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { performance } from 'node:perf_hooks';
import { createLatencyHistogram, errors, getJson, isWeftError, putJson, raise, silentLogger, WeftException, type Logger, type Store, type WeftError } from '@weft/kernel';
import { ChannelError, connectChannel, LABEL_JOIN, LABEL_NODE, type Conn } from './channel.ts';
import { AuthReply, Platform, Role, Snapshot, type NetworkRecord, type JoinInfo, type WireKeyRing } from './codecs.ts';
import { fromWire, RpcClient } from './rpc.ts';
import { Codes, PLUGIN } from './state.ts';
import { keyDigest, parseToken, secretKey } from './token.ts';
import { concat, fromB64, sodium, splitHostPort, toB64 } from './util.ts';

const NODE_KEY = 'node';
export const DEFAULT_PORT = 2377;

/**
 * An attachment change made while no manager answered (the sandbox already runs); sent, in
 * order, as soon as a session is up again. Both methods are idempotent on the manager.
 */
export const PendingOp = t.type({ Op: t.union([t.literal('Network.Attach'), t.literal('Network.Detach')]), Network: t.string, Sandbox: t.string });
export type PendingOp = t.TypeOf<typeof PendingOp>;

export const NodeState = t.intersection([
  t.type({
    Version: t.literal(1),
    ClusterID: t.string,
    NodeID: t.string,
    /** Name and platform this node registered with. */
    Name: t.string,
    Platform,
    Role,
    /** This node's Ed25519 identity, generated at join. */
    NodeKey: t.type({ PublicKey: t.string, SecretKey: t.string }),
    /** Digest of the manager key the join token pinned; later sessions check it too. */
    ManagerDigest: t.string,
    Managers: t.array(t.string),
    Snapshot,
  }),
  t.partial({
    Pending: t.array(PendingOp),
    /** This node's own sandboxes per network ID, as the managers last confirmed them (plus Pending). */
    Local: t.record(t.string, t.array(t.string)),
  }),
]);
export type NodeState = t.TypeOf<typeof NodeState>;

export interface NodeOptions {
  readonly store: Store;
  readonly log?: Logger;
  readonly heartbeatMs?: number;
  /** Called whenever a newer snapshot is applied (networks changed, or a newer key ring). */
  readonly onSnapshot?: (s: Snapshot, ringChanged: boolean) => void;
  /** Reconnect backoff bounds. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly connectTimeoutMs?: number;
  /** The managers changed this node's role (`node promote` / `demote`); `store` for a new manager. */
  readonly onRole?: (role: Role, store: string | undefined) => void;
}

function unreachable(addrs: readonly string[], why: string, what: string): WeftError {
  return errors.unavailable(PLUGIN, `No manager reachable at ${addrs.join(', ')} (${why}); existing networks keep working, but ${what} needs a manager`, {
    code: Codes.noManager,
    hint: 'Check that a manager is running and reachable, then retry.',
  });
}

function keyMismatch(addr: string, got: string, pinned: string, what: string): string {
  return `The manager at ${addr} presented a key whose digest is ${got.slice(0, 16)}…, but the ${what} pins ${pinned.slice(0, 16)}…; refusing to connect (a different manager, or a token from another swarm)`;
}

async function awaitWelcome(conn: Conn): Promise<t.TypeOf<typeof AuthReply>> {
  const r = AuthReply.decode(await conn.receive(10_000));
  if (isLeft(r)) throw new ChannelError('the manager sent an unexpected reply to authentication');
  return r.right;
}

export class NodeAgent {
  private st: NodeState;
  private readonly opts: NodeOptions;
  private readonly log: Logger;
  private client: RpcClient | undefined;
  private connecting: Promise<RpcClient> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private localSave: ReturnType<typeof setTimeout> | undefined;
  private backoff: number;
  private closed = false;
  private saving: Promise<void> = Promise.resolve();
  /** Set when the manager refused this node for good (removed). */
  removed: WeftError | undefined;
  /** The cluster store URL a manager welcomed this node with (a node that joined as a manager). */
  welcomeStore: string | undefined;
  lastError = '';
  /** Round trips of `call` (failures included) and failures, for `Control.stats`. */
  readonly rpc = createLatencyHistogram();
  rpcErrors = 0;

  private constructor(opts: NodeOptions, st: NodeState) {
    this.opts = opts;
    this.st = st;
    this.log = opts.log ?? silentLogger;
    this.backoff = opts.minBackoffMs ?? 200;
  }

  get state(): NodeState {
    return this.st;
  }
  get connected(): boolean {
    return this.client !== undefined && !this.client.conn.closed;
  }

  /** Joins a swarm with a token; on success the session stays open as the node's first session. */
  static async join(opts: NodeOptions, token: string, remoteAddrs: readonly string[], info: Omit<JoinInfo, 'PublicKey'>): Promise<NodeAgent> {
    const parsed = parseToken(token);
    if (remoteAddrs.length === 0) raise(errors.badRequest(PLUGIN, 'Give the address of a manager to join, e.g. 192.0.2.10:2377'));
    const nodeKey = sodium.crypto_sign_keypair();
    let lastWhy = '';
    for (const addr of remoteAddrs) {
      const hp = splitHostPort(addr, DEFAULT_PORT);
      if (hp === undefined) raise(errors.badRequest(PLUGIN, `Manager address "${addr}" is not HOST:PORT`, { value: addr }));
      let conn: Conn;
      try {
        ({ conn } = await connectChannel({
          host: hp.host,
          port: hp.port,
          mode: 'token',
          timeoutMs: opts.connectTimeoutMs ?? 5000,
          checkKey: (pk) => (keyDigest(pk) === parsed.digest ? undefined : keyMismatch(addr, keyDigest(pk), parsed.digest, 'join token')),
        }));
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        if (why.startsWith('The manager at')) raise(errors.forbidden(PLUGIN, why, { code: Codes.wrongManagerKey, hint: 'Check the token and the manager address.' }));
        lastWhy = why;
        continue;
      }
      const proof = sodium.crypto_generichash(32, concat(LABEL_JOIN, conn.transcript), secretKey(parsed.secret));
      conn.send({ t: 'auth', mode: 'token', proof: toB64(proof), join: { ...info, PublicKey: toB64(nodeKey.publicKey) } });
      let reply: t.TypeOf<typeof AuthReply>;
      try {
        reply = await awaitWelcome(conn);
      } catch (e) {
        conn.destroy();
        lastWhy = e instanceof Error ? e.message : String(e);
        continue;
      }
      if (reply.t === 'refused') {
        conn.close();
        raise(fromWire(reply.err));
      }
      const w = reply as Extract<typeof reply, { t: 'welcome' }>;
      const st: NodeState = {
        Version: 1,
        ClusterID: w.ClusterID,
        NodeID: w.NodeID,
        Name: info.Name,
        Platform: info.Platform,
        Role: w.Role,
        NodeKey: { PublicKey: toB64(nodeKey.publicKey), SecretKey: toB64(nodeKey.privateKey) },
        ManagerDigest: parsed.digest,
        Managers: [...new Set([addr, ...w.Snapshot.Managers])],
        Snapshot: w.Snapshot,
      };
      await putJson(opts.store, NODE_KEY, st);
      const agent = new NodeAgent(opts, st);
      agent.welcomeStore = w.Store;
      agent.adopt(conn);
      agent.opts.onSnapshot?.(st.Snapshot, true);
      return agent;
    }
    return raise(errors.unavailable(PLUGIN, `Cannot join: no manager reachable at ${remoteAddrs.join(', ')} (${lastWhy})`, { code: Codes.noManager, hint: 'Check the address and port (default 2377) and that the manager is running.' }));
  }

  /** Resumes from the store (connects in the background); undefined when this node never joined. */
  static async open(opts: NodeOptions): Promise<NodeAgent | undefined> {
    const raw = await getJson<unknown>(opts.store, NODE_KEY);
    if (raw === undefined) return undefined;
    const r = NodeState.decode(raw);
    if (isLeft(r)) raise(errors.internal(PLUGIN, 'The stored node state does not decode; refusing to resume swarm membership', { hint: 'Restore the state dir, or leave and join again.' }));
    const agent = new NodeAgent(opts, (r as { right: NodeState }).right);
    agent.opts.onSnapshot?.(agent.st.Snapshot, true);
    agent.connect().catch(() => agent.scheduleReconnect());
    return agent;
  }

  private adopt(conn: Conn): RpcClient {
    const client = new RpcClient(conn, (s) => this.apply(s), (r) => this.roleChanged(r.Role, r.Store));
    this.client = client;
    this.backoff = this.opts.minBackoffMs ?? 200;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    // An unanswered heartbeat means the session is dead even if TCP has not noticed (a cut
    // link sends no RST): drop it, so calls fail fast or queue, and reconnect.
    const hbTimeout = Math.max(this.opts.heartbeatMs ?? 5000, 3000);
    this.heartbeat = setInterval(() => {
      if (this.client !== client || conn.closed) return;
      client.call('Heartbeat', {}, hbTimeout).catch((e: unknown) => {
        if (this.client !== client || conn.closed) return;
        this.log.warn('the manager did not answer a heartbeat; dropping the session and reconnecting', { manager: conn.remote, error: isWeftError(e) ? e.message : String(e) });
        conn.destroy();
      });
    }, this.opts.heartbeatMs ?? 5000);
    this.heartbeat.unref?.();
    void client.done.then((why) => {
      if (this.client === client) this.client = undefined;
      this.lastError = `the session to ${conn.remote} ended: ${why}`;
      if (!this.closed && this.removed === undefined) this.scheduleReconnect();
    });
    return client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined || this.removed !== undefined) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.connected) return;
      this.connect().catch(() => this.scheduleReconnect());
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /** A session authenticated by the node identity (not the token: rotations don't matter). */
  connect(): Promise<RpcClient> {
    if (this.client !== undefined && !this.client.conn.closed) return Promise.resolve(this.client);
    if (this.connecting !== undefined) return this.connecting;
    const attempt = async (): Promise<RpcClient> => {
      let lastWhy = 'no manager address known';
      for (const addr of this.st.Managers) {
        const hp = splitHostPort(addr, DEFAULT_PORT);
        if (hp === undefined) continue;
        let conn: Conn;
        try {
          ({ conn } = await connectChannel({
            host: hp.host,
            port: hp.port,
            mode: 'node',
            timeoutMs: this.opts.connectTimeoutMs ?? 2000,
            checkKey: (pk) => (keyDigest(pk) === this.st.ManagerDigest ? undefined : keyMismatch(addr, keyDigest(pk), this.st.ManagerDigest, 'swarm this node joined')),
          }));
        } catch (e) {
          lastWhy = e instanceof Error ? e.message : String(e);
          continue;
        }
        const sig = sodium.crypto_sign_detached(concat(LABEL_NODE, conn.transcript), fromB64(this.st.NodeKey.SecretKey));
        conn.send({ t: 'auth', mode: 'node', node: this.st.NodeID, sig: toB64(sig) });
        let reply: t.TypeOf<typeof AuthReply>;
        try {
          reply = await awaitWelcome(conn);
        } catch (e) {
          conn.destroy();
          lastWhy = e instanceof Error ? e.message : String(e);
          continue;
        }
        if (reply.t === 'refused') {
          conn.close();
          const err = fromWire(reply.err);
          if (err.code === Codes.nodeRemoved) this.removed = err;
          throw err;
        }
        const w = reply as Extract<typeof reply, { t: 'welcome' }>;
        const client = this.adopt(conn);
        this.apply(w.Snapshot);
        if (w.Role !== this.st.Role) this.roleChanged(w.Role, w.Store);
        void this.flushPending(client);
        return client;
      }
      this.lastError = lastWhy;
      throw unreachable(this.st.Managers, lastWhy, 'this operation');
    };
    const p = attempt().finally(() => {
      this.connecting = undefined;
    });
    this.connecting = p;
    return p;
  }

  private roleChanged(role: Role, store: string | undefined): void {
    if (role === this.st.Role) return;
    this.st = { ...this.st, Role: role };
    void this.save();
    try {
      this.opts.onRole?.(role, store);
    } catch (e) {
      this.log.warn('role change handler failed', { error: String(e) });
    }
  }

  /** Applies a snapshot if it is newer; a key ring only if its rotation is newer (idempotent). */
  apply(s: Snapshot): void {
    const cur = this.st.Snapshot;
    const ringChanged = s.KeyRing.Rotation > cur.KeyRing.Rotation;
    const newer = s.Seq > cur.Seq;
    if (!newer && !ringChanged) return;
    const base = newer ? s : cur;
    const next: Snapshot = { ...base, KeyRing: ringChanged ? s.KeyRing : cur.KeyRing };
    this.st = { ...this.st, Snapshot: next, Managers: [...new Set([...this.st.Managers, ...s.Managers])] };
    const st = this.st;
    this.saving = this.saving.then(() => putJson(this.opts.store, NODE_KEY, st)).catch((e) => this.log.error('saving the node state failed', { error: String(e) }));
    try {
      this.opts.onSnapshot?.(next, ringChanged);
    } catch (e) {
      this.log.warn('snapshot handler failed', { error: String(e) });
    }
  }

  /** Calls the manager, connecting first if needed; fails fast with a clear message when none answers. */
  async call(m: string, p: unknown, what = m): Promise<unknown> {
    const t0 = performance.now();
    try {
      return await this.callOnce(m, p, what);
    } catch (e) {
      this.rpcErrors++;
      throw e;
    } finally {
      this.rpc.observe((performance.now() - t0) / 1000);
    }
  }

  private async callOnce(m: string, p: unknown, what: string): Promise<unknown> {
    // A session that closes during the call (its manager died, or closed it) is retried once on a
    // fresh session: with several managers the next one answers, so users do not notice.
    for (let attempt = 0; ; attempt++) {
      if (this.removed !== undefined) raise(this.removed);
      let client: RpcClient;
      try {
        client = await this.connect();
      } catch (e) {
        const err = e instanceof WeftException ? e.error : (e as WeftError);
        if (err.code === Codes.noManager) raise(unreachable(this.st.Managers, this.lastError, what));
        throw e;
      }
      try {
        return await client.call(m, p);
      } catch (e) {
        const err = e as WeftError;
        if (err._tag === 'WeftError') {
          if (attempt === 0 && err.code === Codes.noManager && client.conn.closed) {
            await client.done;
            continue;
          }
          raise(err);
        }
        throw e;
      }
    }
  }

  /** Attachment changes recorded while no manager answered, not yet sent. */
  get pending(): readonly PendingOp[] {
    return this.st.Pending ?? [];
  }

  /**
   * `Network.Attach` / `Network.Detach` for a sandbox of this node. When no manager answers, the
   * change is recorded durably and sent as soon as a session is up, so a host cut off from the
   * manager still runs sandboxes on the networks it already uses (the manager cannot remove a
   * network this node has attachments on, so the attachment stays valid). A first attachment to
   * a network this node does not use yet still needs a manager: the network might be removed
   * meanwhile.
   */
  async attachment(op: PendingOp['Op'], req: { Network: string; Sandbox: string }, what: string): Promise<NetworkRecord> {
    try {
      const net = (await this.call(op, req, what)) as NetworkRecord;
      await this.recordLocal(net.Id, op, req.Sandbox);
      return net;
    } catch (e) {
      const err = e instanceof WeftException ? e.error : isWeftError(e) ? e : undefined;
      if (err?.code !== Codes.noManager || this.removed !== undefined) throw e;
      const net = this.st.Snapshot.Networks.find((n) => n.Id === req.Network || n.Name === req.Network);
      if (net === undefined) throw e;
      // This node's sandboxes on the network: the manager's last word, then the changes not sent yet.
      const set = new Set(this.st.Local?.[net.Id] ?? []);
      for (const p of this.pending) if (p.Network === net.Id) p.Op === 'Network.Attach' ? set.add(p.Sandbox) : set.delete(p.Sandbox);
      set.delete(req.Sandbox);
      const others = [...set];
      if (op === 'Network.Attach' && others.length === 0) {
        raise(unreachable(this.st.Managers, this.lastError, `${what} (this node has no other sandbox on it yet)`));
      }
      const rec: PendingOp = { Op: op, Network: net.Id, Sandbox: req.Sandbox };
      const pending = [...this.pending.filter((p) => !(p.Network === net.Id && p.Sandbox === req.Sandbox)), rec];
      const updated: NetworkRecord = { ...net, Attachments: {} };
      this.st = { ...this.st, Pending: pending };
      await this.save();
      this.log.warn('no manager reachable: attachment change recorded on this node; it is sent when a manager answers', { op, network: net.Name, sandbox: req.Sandbox, pending: pending.length, why: err.message });
      return updated;
    }
  }

  /** Keeps this node's own attachments (what the offline rule above needs). */
  private async recordLocal(net: string, op: PendingOp['Op'], sandbox: string): Promise<void> {
    const cur = new Set(this.st.Local?.[net] ?? []);
    const had = cur.has(sandbox);
    if (op === 'Network.Attach' ? had : !had) return;
    op === 'Network.Attach' ? cur.add(sandbox) : cur.delete(sandbox);
    const { [net]: _old, ...rest } = this.st.Local ?? {};
    this.st = { ...this.st, Local: cur.size > 0 ? { ...rest, [net]: [...cur].sort() } : rest };
    // Coalesced: a host attaching thousands of sandboxes saves its state a few times a second, not per attach.
    if (this.localSave === undefined) {
      this.localSave = setTimeout(() => {
        this.localSave = undefined;
        void this.save();
      }, 200);
      this.localSave.unref?.();
    }
  }

  /** Sends the attachment changes recorded while no manager answered, in order. */
  private async flushPending(client: RpcClient): Promise<void> {
    for (const op of this.pending) {
      if (this.client !== client || client.conn.closed) return;
      try {
        await client.call(op.Op, { Network: op.Network, Sandbox: op.Sandbox });
        await this.recordLocal(op.Network, op.Op, op.Sandbox);
        this.log.info('sent an attachment change recorded while no manager was reachable', { op: op.Op, network: op.Network, sandbox: op.Sandbox });
      } catch (e) {
        const err = isWeftError(e) ? e : e instanceof WeftException ? e.error : undefined;
        if (err === undefined || err.code === Codes.noManager) return; // the session broke: retried on the next one
        this.log.error('the manager refused an attachment change recorded while it was unreachable; dropped', { op: op.Op, network: op.Network, sandbox: op.Sandbox, error: err.message });
      }
      this.st = { ...this.st, Pending: this.pending.filter((p) => p !== op) };
      await this.save();
    }
  }

  private save(): Promise<void> {
    const st = this.st;
    this.saving = this.saving.then(() => putJson(this.opts.store, NODE_KEY, st)).catch((e) => this.log.error('saving the node state failed', { error: String(e) }));
    return this.saving;
  }

  ring(): WireKeyRing {
    return this.st.Snapshot.KeyRing;
  }

  async flush(): Promise<void> {
    await this.saving;
  }

  /** Forgets the swarm: closes the session and deletes the node state. */
  async forget(): Promise<void> {
    await this.close();
    await this.opts.store.delete(NODE_KEY);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    if (this.localSave !== undefined) {
      clearTimeout(this.localSave);
      this.localSave = undefined;
      void this.save();
    }
    this.client?.conn.destroy();
    this.client = undefined;
    await this.connecting?.catch(() => undefined);
    await this.saving;
  }
}
