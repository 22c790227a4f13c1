/**
 * `ControlService`: what the agent holds — a manager (after init, a join with the manager token,
 * a promotion, or resumed from the state dir), or a node session (a worker), or nothing. Every
 * manager answers reads and writes itself from the shared cluster store; a worker gets Docker's
 * "not a swarm manager" refusal for cluster writes and reads from its cached snapshot.
 */
import * as os from 'node:os';
import { ClusterStoreCodes, createLatencyHistogram, errors, putJson, raise, WeftException, type ControlStats, type BlockAllocator, type ClusterStore, type ClusterStoreConfig, type Context, type Control, type GossipBootstrap, type KeyRing, type NodeDescription, type Store } from '@weft/kernel';
import type { AttachRequest, InitRequest, JoinRequest, KeyRingInfo, NetworkCreateRequest, NetworkRecord, NodeRecord, NodeView, Platform, Role, Snapshot, SwarmInfo, WireKeyRing } from './codecs.ts';
import { defaultAdvertise, LOCAL_KEY, Manager } from './manager.ts';
import { convertV1, readV1 } from './migrate.ts';
import { DEFAULT_PORT, NodeAgent, type NodeState } from './node.ts';
import { Codes, findNetwork, getNetwork, NOT_A_MANAGER, NOT_IN_SWARM, PLUGIN, ringInfo } from './state.ts';
import { keyDigest } from './token.ts';
import { fromB64, parseDuration, splitHostPort } from './util.ts';

export interface ControlOptions {
  /** Default: the host name. */
  readonly nodeName?: string;
  /** Platform this node advertises (agent `--os`); default: the real one. */
  readonly os?: string;
  readonly arch?: string;
  /** Control-plane listener for managers (default `0.0.0.0:2377`); tests use `127.0.0.1:0`. */
  readonly listenAddr?: string;
  /** Address other nodes use to reach this one. */
  readonly advertiseAddr?: string;
  readonly gossipAddr?: string;
  readonly dataPathAddr?: string;
  readonly dataPathPort?: number;
  /** Node → manager heartbeat period (default 5 s); a node is `down` after three missed. */
  readonly heartbeatMs?: number;
  readonly connectTimeoutMs?: number;
  /** The manager's IPAM block allocator (default: one from the `blocks` service). */
  readonly blocks?: () => BlockAllocator;
  /** Node status from gossip; default: the `membership` service if loaded, else connections. */
  readonly statusHook?: (node: NodeRecord) => string | undefined;
  readonly now?: () => number;
  /** `weft-agent --cluster-store` (default `embedded:`); `swarm init --cluster-store` overrides it. */
  readonly clusterStore?: ClusterStoreConfig;
  /** Manager lease TTL in seconds (default 3): how fast a dead leader is replaced. */
  readonly leaseTtlSeconds?: number;
}

const notInSwarm = () => errors.forbidden(PLUGIN, NOT_IN_SWARM, { code: Codes.notInSwarm });
/** Docker's refusal, plus where the managers are and whether this node can reach one now. */
const notManager = (node?: NodeAgent) => {
  if (node === undefined) return errors.forbidden(PLUGIN, NOT_A_MANAGER, { code: Codes.notManager });
  const addrs = node.state.Managers.join(', ');
  const where = node.connected
    ? ` Managers: ${addrs}.`
    : ` Managers: ${addrs}; none is reachable from this node now${node.lastError !== '' ? ` (${node.lastError})` : ''}, so start or reach one first; existing networks keep working meanwhile.`;
  return errors.forbidden(PLUGIN, `${NOT_A_MANAGER}${where}`, { code: Codes.notManager });
};

/** The kernel's cipher wants keys as bytes, primary by index. */
export function kernelRing(r: WireKeyRing): KeyRing {
  return { keys: r.Keys.map((k) => ({ epoch: k.Epoch, key: fromB64(k.Key) })), primary: r.Primary };
}

export class ControlService implements Control {
  private manager: Manager | undefined;
  private store: ClusterStore | undefined;
  private node: NodeAgent | undefined;
  private readonly ctx: Context<unknown>;
  private readonly opts: ControlOptions;
  private readonly managerStore: Store;
  private readonly nodeStore: Store;
  private appliedRotation = -1;
  /** Role changes (promote/demote) run one at a time. */
  private changing: Promise<void> = Promise.resolve();

  constructor(ctx: Context<unknown>, opts: ControlOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    this.managerStore = ctx.store.scope('manager');
    this.nodeStore = ctx.store.scope('node');
  }

  /** Resumes whatever the state dir holds (converting a manager state of an earlier version). */
  async start(): Promise<void> {
    let cfg = await Manager.readConfig(this.managerStore);
    if (cfg === undefined) {
      const v1 = await readV1(this.managerStore);
      if (v1 !== undefined) {
        const { store } = await this.openStore({ URL: 'embedded:' });
        try {
          await convertV1(v1, this.managerStore, store, 'embedded:');
        } finally {
          await store.close();
        }
        const self = v1.Nodes[v1.NodeID];
        cfg = { Version: 2, ClusterID: v1.ClusterID, NodeID: v1.NodeID, NodeKey: { PublicKey: self?.PublicKey ?? v1.ManagerKey.PublicKey, SecretKey: v1.ManagerKey.SecretKey }, BindAddr: v1.BindAddr, ListenAddr: v1.ListenAddr, Store: { URL: 'embedded:' } };
        await putJson(this.managerStore, LOCAL_KEY, cfg);
        this.ctx.log.info('converted the swarm state of an earlier Weft into per-key cluster state', { cluster: v1.ClusterID });
      }
    }
    if (cfg !== undefined) {
      const { store, shared } = await this.openStore(cfg.Store);
      this.store = store;
      try {
        this.manager = await Manager.open(this.managerOptions(store, cfg.Store, shared));
      } catch (e) {
        this.store = undefined;
        await store.close();
        throw e;
      }
      return;
    }
    this.node = await NodeAgent.open(this.nodeOptions());
  }

  /** Opens the cluster store named by `cfg.URL` through the backend plugin for its scheme. */
  private async openStore(cfg: ClusterStoreConfig): Promise<{ store: ClusterStore; shared: boolean }> {
    const m = /^([a-z][a-z0-9+.-]*):/i.exec(cfg.URL);
    if (m === null) {
      raise(errors.badRequest(PLUGIN, `Cluster store URL ${JSON.stringify(cfg.URL)} has no scheme; give "embedded:" or "etcd://HOST:2379[,HOST:2379...]"`, { code: ClusterStoreCodes.badConfig, value: cfg.URL }));
    }
    const scheme = m![1]!.toLowerCase();
    const name = `clusterStore.${scheme}` as const;
    if (!this.ctx.services.has(name)) {
      raise(errors.badRequest(PLUGIN, `No cluster store backend for ${JSON.stringify(scheme + ':')} is loaded in this agent (cluster store URL ${JSON.stringify(cfg.URL)})`, {
        code: ClusterStoreCodes.badConfig,
        value: cfg.URL,
        hint: 'Use "embedded:" or "etcd://HOST:2379,..." (etcds:// for TLS).',
      }));
    }
    const backend = this.ctx.services.get(name);
    const store = await backend.open({ url: cfg.URL, ...(cfg.CA !== undefined ? { ca: cfg.CA } : {}), ...(cfg.Cert !== undefined ? { cert: cfg.Cert } : {}), ...(cfg.Key !== undefined ? { key: cfg.Key } : {}) });
    return { store, shared: backend.shared };
  }

  private platform(req: { OS?: string } = {}): Platform {
    return { OS: req.OS ?? this.opts.os ?? (process.platform === 'win32' ? 'windows' : process.platform), Architecture: this.opts.arch ?? (process.arch === 'x64' ? 'x86_64' : process.arch) };
  }

  private statusHook(): ((n: NodeRecord) => string | undefined) | undefined {
    if (this.opts.statusHook !== undefined) return this.opts.statusHook;
    if (!this.ctx.services.has('membership')) return undefined;
    const m = this.ctx.services.get('membership');
    return (n) => {
      const member = m.members().find((x) => x.name === n.Name || x.name === n.ID);
      if (member === undefined) return undefined;
      return member.state === 'alive' ? 'ready' : member.state;
    };
  }

  private managerOptions(cluster: ClusterStore, storeConfig: ClusterStoreConfig, shared: boolean) {
    const hook = this.statusHook();
    return {
      local: this.managerStore,
      cluster,
      storeConfig,
      shared,
      log: this.ctx.log,
      now: this.opts.now ?? this.ctx.now,
      ...(this.opts.heartbeatMs !== undefined ? { heartbeatMs: this.opts.heartbeatMs } : {}),
      ...(this.opts.leaseTtlSeconds !== undefined ? { leaseTtlSeconds: this.opts.leaseTtlSeconds } : {}),
      blocks: this.opts.blocks?.() ?? this.ctx.services.get('blocks').create({ plugin: PLUGIN }),
      ...(hook !== undefined ? { statusHook: hook } : {}),
      // A node's attach goes through this kernel so guards (e.g. windows-guard) see it.
      invokeAttach: async (m: 'Network.Attach' | 'Network.Detach', input: AttachRequest) => {
        const r = await this.ctx.invoke(this.ctx.plugin, m, input);
        if (r._tag === 'Left') throw new WeftException(r.left);
        return r.right;
      },
      onSnapshot: (s: Snapshot) => this.applyLocal(s),
      onLeader: (leader: boolean) => this.ctx.events.publish('control.leader', { leader, nodeId: this.nodeId ?? '' }),
      onSelfChanged: (what: 'demoted' | 'removed') => {
        if (what === 'demoted') this.serialChange(() => this.becomeWorker());
        else this.ctx.log.warn('this manager was removed from the swarm; it stops serving', {});
      },
    };
  }

  private nodeOptions() {
    return {
      store: this.nodeStore,
      log: this.ctx.log,
      ...(this.opts.heartbeatMs !== undefined ? { heartbeatMs: this.opts.heartbeatMs } : {}),
      ...(this.opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.opts.connectTimeoutMs } : {}),
      onSnapshot: (s: Snapshot) => this.applyLocal(s),
      onRole: (role: Role, store: string | undefined) => {
        if (role === 'manager' && store !== undefined) this.serialChange(() => this.becomeManager(store));
      },
    };
  }

  private serialChange(f: () => Promise<void>): void {
    this.changing = this.changing.then(f).catch((e) => this.ctx.log.error('changing this node\'s swarm role failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  /** Promoted: stop the worker session, open the cluster store, serve as a manager. */
  private async becomeManager(storeURL: string): Promise<void> {
    const node = this.node;
    if (node === undefined || this.manager !== undefined) return;
    const st = node.state;
    const cfg: ClusterStoreConfig = { ...(this.opts.clusterStore ?? {}), URL: storeURL };
    const { store, shared } = await this.openStore(cfg);
    await node.forget();
    this.node = undefined;
    const listen = splitHostPort(this.opts.listenAddr ?? `0.0.0.0:${DEFAULT_PORT}`, DEFAULT_PORT)!;
    try {
      this.store = store;
      this.manager = await Manager.join(this.managerOptions(store, cfg, shared), {
        host: listen.host,
        port: listen.port,
        advertise: this.opts.advertiseAddr ?? defaultAdvertise(listen.host),
        nodeId: st.NodeID,
        clusterId: st.ClusterID,
        nodeKey: st.NodeKey,
      });
      this.ctx.log.info('this node was promoted: it is now a manager', { store: this.manager.storeName });
    } catch (e) {
      this.store = undefined;
      await store.close();
      throw e;
    }
  }

  /** Demoted: stop serving, and keep a worker session to the other managers. */
  private async becomeWorker(): Promise<void> {
    const m = this.manager;
    if (m === undefined) return;
    const self = m.nodeRecord(m.nodeId);
    const st: NodeState = {
      Version: 1,
      ClusterID: m.clusterId,
      NodeID: m.nodeId,
      Name: self.Name,
      Platform: self.Platform,
      Role: 'worker',
      NodeKey: m.config.NodeKey,
      ManagerDigest: keyDigest(m.publicKey),
      Managers: m.managerAddrs().filter((a) => a !== m.address),
      Snapshot: m.snapshot(),
    };
    await m.close();
    await this.store?.close();
    this.manager = undefined;
    this.store = undefined;
    await putJson(this.nodeStore, 'node', st);
    await this.managerStore.delete(LOCAL_KEY);
    this.node = await NodeAgent.open(this.nodeOptions());
    this.ctx.log.info('this node was demoted: it is now a worker', {});
  }

  /** Hands a newer key ring to the cipher (and gossip keyring), and tells subscribers. */
  private applyLocal(s: Snapshot): void {
    if (s.KeyRing.Rotation > this.appliedRotation) {
      this.appliedRotation = s.KeyRing.Rotation;
      if (this.ctx.services.has('cipher')) this.ctx.services.get('cipher').setKeyRing(kernelRing(s.KeyRing));
      // The gossip keys go to the membership provider (primary first), which installs them before it gossips.
      this.ctx.events.publish('control.keyring', { rotation: s.KeyRing.Rotation, epochs: s.KeyRing.Keys.map((k) => k.Epoch), gossip: { keys: s.KeyRing.Gossip.map((k) => fromB64(k.Key)), epochs: s.KeyRing.Gossip.map((k) => k.Epoch) } });
    }
    this.ctx.events.publish('control.snapshot', { seq: s.Seq, networks: s.Networks.map((n) => n.Id) });
  }

  // -------------------------------------------------------------------------------------------
  // Swarm

  get role(): Role | undefined {
    return this.manager !== undefined ? 'manager' : this.node?.state.Role;
  }

  get nodeId(): string | undefined {
    return this.manager?.nodeId ?? this.node?.state.NodeID;
  }

  /** This node's Manager object when it is a manager (tests, and the agent's diagnostics). */
  get managerInstance(): Manager | undefined {
    return this.manager;
  }
  get nodeInstance(): NodeAgent | undefined {
    return this.node;
  }

  private alreadyIn(): void {
    if (this.manager !== undefined || this.node !== undefined) {
      raise(errors.conflict(PLUGIN, 'This node is already part of a swarm. Use "weft swarm leave" to leave this swarm and join another one.', { code: Codes.alreadyInSwarm }));
    }
  }

  async init(req: InitRequest): Promise<{ NodeID: string; ClusterID: string; ListenAddr: string }> {
    this.alreadyIn();
    const listen = splitHostPort(req.ListenAddr ?? this.opts.listenAddr ?? `0.0.0.0:${DEFAULT_PORT}`, DEFAULT_PORT);
    if (listen === undefined) raise(errors.badRequest(PLUGIN, `Listen address "${req.ListenAddr}" is not IP:PORT`, { value: req.ListenAddr }));
    let interval: number | undefined;
    if (req.KeyRotationInterval !== undefined) {
      interval = parseDuration(req.KeyRotationInterval);
      if (interval === undefined) raise(errors.badRequest(PLUGIN, `Key rotation interval ${JSON.stringify(req.KeyRotationInterval)} is not a duration such as "12h" or "90m"`, { value: req.KeyRotationInterval }));
    }
    const advertise = req.AdvertiseAddr ?? this.opts.advertiseAddr;
    const gossip = this.opts.gossipAddr;
    const dpa = req.DataPathAddr ?? this.opts.dataPathAddr;
    const dpp = req.DataPathPort ?? this.opts.dataPathPort;
    const storeCfg: ClusterStoreConfig = req.ClusterStore ?? this.opts.clusterStore ?? { URL: 'embedded:' };
    const { store, shared } = await this.openStore(storeCfg);
    try {
      this.manager = await Manager.init(this.managerOptions(store, storeCfg, shared), {
        host: listen!.host,
        port: listen!.port,
        ...(advertise !== undefined ? { advertise } : {}),
        nodeName: req.NodeName ?? this.opts.nodeName ?? os.hostname(),
        platform: this.platform(req),
        ...(interval !== undefined ? { rotationIntervalMs: interval } : {}),
        ...(req.DefaultAddrPool !== undefined && req.DefaultAddrPool.length > 0 ? { defaultAddrPool: req.DefaultAddrPool } : {}),
        ...(req.SubnetSize !== undefined ? { subnetSize: req.SubnetSize } : {}),
        ...(gossip !== undefined ? { gossipAddr: gossip } : {}),
        ...(dpa !== undefined ? { dataPathAddr: dpa } : {}),
        ...(dpp !== undefined ? { dataPathPort: dpp } : {}),
      });
      this.store = store;
    } catch (e) {
      await store.close();
      throw e;
    }
    this.applyLocal(this.manager.snapshot());
    return { NodeID: this.manager.nodeId, ClusterID: this.manager.clusterId, ListenAddr: this.manager.address };
  }

  async join(req: JoinRequest): Promise<{ NodeID: string; Role: Role; ClusterID: string }> {
    this.alreadyIn();
    const advertise = req.AdvertiseAddr ?? this.opts.advertiseAddr ?? defaultAdvertise('0.0.0.0');
    const gossip = req.GossipAddr ?? this.opts.gossipAddr;
    const dpa = req.DataPathAddr ?? this.opts.dataPathAddr;
    const dpp = req.DataPathPort ?? this.opts.dataPathPort;
    this.node = await NodeAgent.join(this.nodeOptions(), req.JoinToken, req.RemoteAddrs, {
      Name: req.NodeName ?? this.opts.nodeName ?? os.hostname(),
      Addr: advertise,
      Platform: this.platform(req),
      ...(gossip !== undefined ? { GossipAddr: gossip } : {}),
      ...(dpa !== undefined ? { DataPathAddr: dpa } : {}),
      ...(dpp !== undefined ? { DataPathPort: dpp } : {}),
      ...(req.ListenAddr !== undefined ? { ListenAddr: req.ListenAddr } : {}),
    });
    const st = this.node.state;
    if (st.Role === 'manager') {
      // Joined with the manager token: become a full manager on the swarm's cluster store.
      const url = this.node.welcomeStore;
      if (url === undefined) raise(errors.internal(PLUGIN, 'The manager accepted this node as a manager but did not say where the cluster store is', {}));
      const storeCfg: ClusterStoreConfig = { ...(this.opts.clusterStore ?? {}), ...(req.ClusterStore ?? {}), URL: url! };
      let opened: { store: ClusterStore; shared: boolean };
      try {
        opened = await this.openStore(storeCfg);
      } catch (e) {
        await this.node.forget();
        this.node = undefined;
        throw e;
      }
      await this.node.forget();
      this.node = undefined;
      const listen = splitHostPort(req.ListenAddr ?? this.opts.listenAddr ?? `0.0.0.0:${DEFAULT_PORT}`, DEFAULT_PORT);
      if (listen === undefined) raise(errors.badRequest(PLUGIN, `Listen address "${req.ListenAddr}" is not IP:PORT`, { value: req.ListenAddr }));
      try {
        this.manager = await Manager.join(this.managerOptions(opened.store, storeCfg, opened.shared), {
          host: listen!.host,
          port: listen!.port,
          advertise,
          nodeId: st.NodeID,
          clusterId: st.ClusterID,
          nodeKey: st.NodeKey,
        });
        this.store = opened.store;
      } catch (e) {
        await opened.store.close();
        throw e;
      }
    }
    return { NodeID: st.NodeID, Role: st.Role, ClusterID: st.ClusterID };
  }

  async leave(force: boolean): Promise<Record<string, never>> {
    if (this.manager !== undefined) {
      const m = this.manager;
      const others = [...m.view.managers.keys()].filter((id) => id !== m.nodeId);
      if (!force) {
        raise(errors.forbidden(PLUGIN, others.length > 0
          ? 'You are attempting to leave the swarm on a node that is participating as a manager. The other managers keep the swarm; this node is marked down. Use "--force" to confirm, or "weft node demote" it first.'
          : 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use "--force" to ignore this message.', { code: 'WEFT_CONTROL_MANAGER_LEAVE' }));
      }
      if (others.length > 0) {
        await m.writes.updateNode(m.nodeId, (n) => ({ ...n, Role: 'worker', Left: true }));
      } else {
        // The last manager: the swarm's state goes with it (as Docker's "erases all current state").
        await m.store.txn({ compare: [], success: [{ op: 'deletePrefix', prefix: 'weft/' }] }).catch(() => undefined);
      }
      await m.close();
      await this.store?.close();
      this.manager = undefined;
      this.store = undefined;
      for (const k of await this.managerStore.keys()) await this.managerStore.delete(k);
      return {};
    }
    const node = this.node ?? raise(errors.forbidden(PLUGIN, 'This node is not part of a swarm', { code: Codes.notInSwarm }));
    try {
      await node.call('Leave', {}, 'leaving the swarm cleanly');
    } catch (e) {
      if (!force) throw e;
    }
    await node.forget();
    this.node = undefined;
    return {};
  }

  private requireManager(): Manager | NodeAgent {
    if (this.manager !== undefined) return this.manager;
    if (this.node === undefined) raise(notInSwarm());
    if (this.node!.state.Role !== 'manager') raise(notManager(this.node));
    return this.node!;
  }

  private requireNode(): NodeAgent {
    if (this.node === undefined) raise(notInSwarm());
    return this.node!;
  }

  async joinToken(role: Role, rotate: boolean): Promise<{ Token: string }> {
    const m = this.requireManager();
    if (m instanceof Manager) return { Token: await m.joinToken(role, rotate) };
    return (await m.call('Swarm.JoinToken', { Role: role, Rotate: rotate })) as { Token: string };
  }

  info(): SwarmInfo {
    if (this.manager !== undefined) {
      const m = this.manager;
      const leader = m.leaderId;
      return {
        NodeID: m.nodeId,
        Role: 'manager',
        ClusterID: m.clusterId,
        Managers: m.managerAddrs(),
        ManagerReachable: true,
        KeyRing: m.ringInfo(),
        ListenAddr: m.address,
        ...(leader !== undefined ? { Leader: leader } : {}),
        ClusterStore: m.storeName,
      };
    }
    const n = this.requireNode();
    const st = n.state;
    return { NodeID: st.NodeID, Role: st.Role, ClusterID: st.ClusterID, Managers: st.Managers, ManagerReachable: n.connected, KeyRing: ringInfo(st.Snapshot.KeyRing) };
  }

  async rotateKeys(): Promise<KeyRingInfo> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.rotateKeys();
    return (await m.call('Swarm.RotateKeys', {})) as KeyRingInfo;
  }

  /** The data-path key ring this node holds (from the manager, or its cache). */
  keyRing(): WireKeyRing | undefined {
    return this.manager?.snapshot().KeyRing ?? this.node?.ring();
  }

  /** Gossip bootstrap peers and keys (for the membership plugin). */
  gossipBootstrap(): GossipBootstrap | undefined {
    const s = this.manager?.snapshot() ?? this.node?.state.Snapshot;
    return s === undefined ? undefined : { peers: s.GossipPeers, keys: s.KeyRing.Gossip.map((k) => fromB64(k.Key)) };
  }

  // -------------------------------------------------------------------------------------------
  // Nodes

  async nodes(): Promise<NodeView[]> {
    const m = this.requireManager();
    return m instanceof Manager ? m.listNodes() : ((await m.call('Node.List', {})) as NodeView[]);
  }

  async inspectNode(ref: string): Promise<NodeView> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.inspectNode(ref);
    return (await m.call('Node.Inspect', { Node: ref === 'self' ? m.state.NodeID : ref })) as NodeView;
  }

  async removeNode(ref: string, force: boolean): Promise<Record<string, never>> {
    const m = this.requireManager();
    if (m instanceof Manager) {
      const node = m.nodeRecord(ref);
      const r = await m.removeNode(ref, force);
      // Tell the other plugins (e.g. gossip tables evict the node's endpoints everywhere).
      this.ctx.events.publish('control.node.removed', { ID: node.ID, Name: node.Name });
      return r;
    }
    return (await m.call('Node.Remove', { Node: ref, Force: force })) as Record<string, never>;
  }

  async promoteNode(ref: string): Promise<Record<string, never>> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.setRole(ref, 'manager');
    return (await m.call('Node.Promote', { Node: ref })) as Record<string, never>;
  }

  async demoteNode(ref: string): Promise<Record<string, never>> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.setRole(ref, 'worker');
    return (await m.call('Node.Demote', { Node: ref })) as Record<string, never>;
  }

  clusterStore(): ClusterStore | undefined {
    return this.manager?.store;
  }

  isLeader(): boolean {
    return this.manager?.isLeader ?? false;
  }

  /** This node's RPCs to its manager (none on a manager: it answers them). */
  stats(): ControlStats {
    return { rpc: (this.node?.rpc ?? createLatencyHistogram()).snapshot(), rpcErrors: this.node?.rpcErrors ?? 0 };
  }

  /** The platform of a node: known for itself always, for others on managers. */
  async platformOf(nodeId?: string): Promise<Platform | undefined> {
    return (await this.describeNode(nodeId))?.Platform;
  }

  /** ID, name and platform of a node (self when `nodeId` is absent); others are known on managers only. */
  async describeNode(nodeId?: string): Promise<NodeDescription | undefined> {
    if (this.manager !== undefined) {
      try {
        const n = this.manager.nodeRecord(nodeId ?? this.manager.nodeId);
        return { ID: n.ID, Name: n.Name, Platform: n.Platform };
      } catch {
        return undefined;
      }
    }
    const st = this.node?.state;
    if (st === undefined) return nodeId === undefined ? { ID: '', Name: this.opts.nodeName ?? os.hostname(), Platform: this.platform() } : undefined;
    if (nodeId === undefined || nodeId === st.NodeID) return { ID: st.NodeID, Name: st.Name, Platform: st.Platform };
    if (st.Role === 'manager') {
      const v = (await this.node!.call('Node.Inspect', { Node: nodeId })) as NodeView;
      return { ID: v.ID, Name: v.Description.Hostname, Platform: v.Description.Platform };
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Networks

  async createNetwork(req: NetworkCreateRequest): Promise<{ Id: string }> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.createNetwork(req);
    return (await m.call('Network.Create', req, `creating network "${req.Name}"`)) as { Id: string };
  }

  async removeNetwork(ref: string): Promise<Record<string, never>> {
    const m = this.requireManager();
    if (m instanceof Manager) return m.removeNetwork(ref);
    return (await m.call('Network.Remove', { Network: ref }, `removing network "${this.nameOf(ref)}"`)) as Record<string, never>;
  }

  /** From the manager's state, or this node's cached copy (works without a manager). */
  networks(): NetworkRecord[] {
    if (this.manager !== undefined) return this.manager.listNetworks();
    return [...this.requireNode().state.Snapshot.Networks].sort((a, b) => a.Name.localeCompare(b.Name));
  }

  inspectNetwork(ref: string): NetworkRecord {
    if (this.manager !== undefined) return this.manager.inspectNetwork(ref);
    const nets = Object.fromEntries(this.requireNode().state.Snapshot.Networks.map((n) => [n.Id, n]));
    return getNetwork(nets, ref);
  }

  /**
   * Like `inspectNetwork`, but a worker that does not know `ref` yet asks the manager: a network
   * created a moment ago reaches workers with the next state broadcast, and a sandbox started on a
   * worker right after `network create` must not fail with "not found" meanwhile (Docker's workers
   * ask their manager too). Without a reachable manager the cached answer stands.
   */
  async lookupNetwork(ref: string): Promise<NetworkRecord> {
    try {
      return this.inspectNetwork(ref);
    } catch (e) {
      if (this.manager !== undefined || this.node === undefined || !(e instanceof WeftException) || e.error.category !== 'NotFound') throw e;
      try {
        return (await this.node.call('Network.Inspect', { Network: ref }, `looking up network "${ref}"`)) as NetworkRecord;
      } catch (e2) {
        if (e2 instanceof WeftException && e2.error.category === 'NotFound') throw e2;
        throw e; // the manager is not reachable: the local answer stands
      }
    }
  }

  /** A network's name for messages (callers often pass the ID). */
  private nameOf(ref: string): string {
    return this.findNetwork(ref)?.Name ?? ref;
  }

  /** Without attachments on managers too (guards call this on every attach; Inspect has them). */
  findNetwork(ref: string): NetworkRecord | undefined {
    if (this.manager !== undefined) {
      const n = this.manager.findNetwork(ref);
      return n === undefined ? undefined : { ...n, Attachments: {} };
    }
    try {
      return this.inspectNetwork(ref);
    } catch {
      return undefined;
    }
  }

  async attach(req: AttachRequest): Promise<NetworkRecord> {
    if (this.manager !== undefined) return this.manager.attach(req);
    return this.requireNode().attachment('Network.Attach', { Network: req.Network, Sandbox: req.Sandbox }, `attaching to network "${this.nameOf(req.Network)}"`);
  }

  async detach(req: AttachRequest): Promise<NetworkRecord> {
    if (this.manager !== undefined) return this.manager.detach(req);
    return this.requireNode().attachment('Network.Detach', { Network: req.Network, Sandbox: req.Sandbox }, `detaching from network "${this.nameOf(req.Network)}"`);
  }

  // -------------------------------------------------------------------------------------------
  // IPAM blocks

  async requestBlock(req: { Network: string; Subnet?: string }): Promise<{ Block: string }> {
    if (this.manager !== undefined) return this.manager.requestBlock(this.manager.nodeId, req);
    return (await this.requireNode().call('Blocks.Request', req, 'requesting an address block')) as { Block: string };
  }

  async releaseBlock(req: { Network: string; Block: string }): Promise<Record<string, never>> {
    if (this.manager !== undefined) return this.manager.releaseBlock(this.manager.nodeId, req);
    return (await this.requireNode().call('Blocks.Release', req, 'releasing an address block')) as Record<string, never>;
  }

  async stop(): Promise<void> {
    await this.changing;
    await this.manager?.close();
    await this.store?.close();
    await this.node?.close();
  }
}

export { findNetwork };
