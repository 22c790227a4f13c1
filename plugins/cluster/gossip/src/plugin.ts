/**
 * The `gossip` kernel plugin: memberlist-compatible membership (@weft/memberlist) plus replicated
 * per-network tables, on one socket pair (TCP+UDP, default 7946). It provides the kernel's
 * `membership` and `tables` services and publishes their changes as `membership` and `table`
 * events.
 */
import * as t from 'io-ts';
import { definePlugin, GOSSIP_KEY_EPOCH_TAG, type Context, type GossipKeyRing, type Member, type MemberEvent, type Membership as KernelMembership, type PluginDefinition } from '@weft/kernel';
import { createMembership, createNodeTransport, LAN_DEFAULTS, LOCAL_DEFAULTS, realClock, type Membership } from '@weft/memberlist';
import { NetworkTables, membershipHost } from './tables.ts';
import { RECONNECT_INTERVAL_MS, startReconnect } from './reconnect.ts';

const Base64Key = new t.Type<Uint8Array, string, unknown>(
  'Base64Key',
  (u): u is Uint8Array => u instanceof Uint8Array,
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'expected a base64 key');
    const b = Buffer.from(u, 'base64');
    return [16, 24, 32].includes(b.length) && b.toString('base64') === u ? t.success(new Uint8Array(b)) : t.failure(u, c, `expected base64 of 16, 24 or 32 bytes, got ${JSON.stringify(u.slice(0, 8))}…`);
  },
  (k) => Buffer.from(k).toString('base64'),
);

export const GossipConfig = t.intersection([
  t.type({ name: t.string, bindAddr: t.string, bindPort: t.number }),
  t.partial({
    advertiseAddr: t.string,
    advertisePort: t.number,
    /** Seeds (`ip:port`) joined at start and retried until one answers. */
    join: t.array(t.string),
    /** memberlist keyring; the first is primary. */
    keys: t.array(Base64Key),
    meta: t.record(t.string, t.string),
    /** `lan` (memberlist's defaults) or `local` (faster timers, for tests on one machine). */
    profile: t.union([t.literal('lan'), t.literal('local')]),
    /** How long a failed node's table entries are kept (ms). */
    staleGrace: t.number,
    /** How often one failed (not left) member is asked to rejoin (ms; serf's reconnect, faster). */
    reconnectInterval: t.number,
    /** How long failed members are retried (ms; default staleGrace, else 30 min). */
    reconnectTimeout: t.number,
  }),
]);
export type GossipConfig = t.TypeOf<typeof GossipConfig>;

function toKernel(m: ReturnType<Membership['self']>): Member {
  return { name: m.name, addr: m.addr, port: m.port, state: m.state, incarnation: m.incarnation, meta: m.meta };
}

export function gossipPlugin(): PluginDefinition<GossipConfig> {
  let membership: Membership | undefined;
  let tables: NetworkTables | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let reconnect: ReturnType<typeof startReconnect> | undefined;
  /** Tags as configured or last set; the key-epoch tag is added on top. */
  let tags: Record<string, string> = {};
  /** Epoch of the primary key when the keys come from the swarm's key ring. */
  let keyEpoch: number | undefined;

  const withEpoch = (meta: Readonly<Record<string, string>>): Record<string, string> => {
    const out: Record<string, string> = { ...meta };
    delete out[GOSSIP_KEY_EPOCH_TAG];
    if (keyEpoch !== undefined) out[GOSSIP_KEY_EPOCH_TAG] = String(keyEpoch);
    return out;
  };

  /**
   * The swarm's key ring (control plane): every new key installed for receive, then the primary
   * switched, then keys no longer in the ring removed (Membership.applyKeys), so this node and
   * any node one ring behind or ahead always share the sender's primary. Keys given by hand
   * (`--gossip-key`) are replaced by the swarm's.
   */
  const applySwarmRing = (ring: GossipKeyRing, ctx: Context<GossipConfig>): void => {
    const m = membership;
    if (m === undefined) return;
    const epoch = ring.epochs[0];
    if (ring.keys.length === 0 || epoch === undefined) {
      ctx.log.warn('the swarm key ring has no gossip keys; gossip encryption unchanged', { epochs: ring.epochs });
      return;
    }
    const wasEncrypted = m.encryption().enabled;
    let changed: { installed: number; removed: number };
    try {
      changed = m.applyKeys(ring.keys);
    } catch (e) {
      ctx.log.error('the swarm key ring was refused; gossip keys unchanged', { error: e instanceof Error ? e.message : String(e), epochs: ring.epochs });
      return;
    }
    if (keyEpoch === epoch && changed.installed === 0 && changed.removed === 0) return;
    keyEpoch = epoch;
    m.setMeta(withEpoch(tags));
    ctx.log.info(wasEncrypted ? 'gossip keys rotated' : 'gossip is now encrypted with the swarm key ring', { primaryEpoch: epoch, epochs: ring.epochs, installed: changed.installed, removed: changed.removed });
  };

  return definePlugin<GossipConfig>({
    manifest: {
      name: 'gossip',
      version: '0.1.0',
      kernel: '^0.1.0',
      provides: ['membership', 'tables'],
      config: GossipConfig,
      description: 'memberlist-compatible SWIM membership (serf interop) and replicated per-network tables',
    },
    services: {
      membership: async (ctx) => {
        const c = ctx.config;
        const transport = createNodeTransport({ bindAddr: c.bindAddr, bindPort: c.bindPort, log: (l) => ctx.log.debug(l) });
        // memberlist logs every refusal as an error; one line per sender and minute is enough.
        const lastWarned = new Map<string, { at: number; quiet: number }>();
        const onRefused = (kind: 'packet' | 'stream', from: string, reason: string) => {
          const host = from.replace(/^reply from /, '').replace(/:\d+$/, '');
          const w = lastWarned.get(host);
          const now = Date.now();
          if (w !== undefined && now - w.at < 60_000) {
            w.quiet++;
            return;
          }
          if (lastWarned.size > 1024) lastWarned.clear();
          lastWarned.set(host, { at: now, quiet: 0 });
          ctx.log.warn('gossip refused traffic without a valid key', { kind: kind === 'packet' ? 'datagram' : 'stream', from, reason, ...(w !== undefined && w.quiet > 0 ? { moreSinceLastLine: w.quiet } : {}) });
        };
        const m = createMembership({
          name: c.name,
          bindAddr: c.bindAddr,
          bindPort: c.bindPort,
          ...(c.advertiseAddr !== undefined ? { advertiseAddr: c.advertiseAddr } : {}),
          ...(c.advertisePort !== undefined ? { advertisePort: c.advertisePort } : {}),
          meta: c.meta ?? {},
          keys: c.keys ?? [],
          transport,
          clock: realClock,
          config: c.profile === 'local' ? LOCAL_DEFAULTS : LAN_DEFAULTS,
          localState: () => tables?.localState() ?? new Uint8Array(0),
          mergeRemoteState: (s) => tables?.mergeRemoteState(s),
          log: (l) => ctx.log.debug(l),
          onRefused,
        });
        await m.start();
        membership = m;
        tags = { ...(c.meta ?? {}) };
        m.onEvent((e) => {
          // memberlist logs these at INFO ("Suspect x has failed", "Marking x as failed").
          if (e.type === 'suspect' || e.type === 'dead') ctx.log.info(`gossip member ${e.type === 'suspect' ? 'suspected' : 'declared dead'}`, { member: e.member.name, addr: `${e.member.addr}:${e.member.port}`, incarnation: e.member.incarnation });
          ctx.events.publish('membership', { type: e.type, member: toKernel(e.member) } satisfies MemberEvent);
        });
        reconnect = startReconnect(m, {
          clock: realClock,
          interval: c.reconnectInterval ?? RECONNECT_INTERVAL_MS,
          timeout: c.reconnectTimeout ?? c.staleGrace ?? 30 * 60_000,
          log: (msg, data) => ctx.log.info(msg, data),
        });
        const seeds = c.join ?? [];
        if (seeds.length > 0) {
          // Join in the background and keep trying: a seed that is not up yet is normal at boot.
          let delay = 1000;
          const attempt = () => {
            void m.join(seeds).then(
              (n) => {
                if (n > 0) ctx.log.info('joined the gossip cluster', { seeds, answered: n });
                else throw new Error('no seed answered');
              },
              ).catch((e) => {
                ctx.log.warn('gossip join failed; retrying', { seeds, error: String(e), retryMs: delay });
                retry = setTimeout(attempt, delay);
                delay = Math.min(delay * 2, 30_000);
              });
          };
          attempt();
        }
        const api: KernelMembership = {
          self: () => toKernel(m.self()),
          members: () => m.members().map(toKernel),
          join: (s) => m.join(s),
          leave: () => m.leave(),
          setMeta: (meta) => {
            tags = { ...meta };
            m.setMeta(withEpoch(tags));
          },
          stats: () => {
            const c = m.counters;
            return {
              probes: c.probes, probeFailures: c.probeFailures, suspicions: c.suspicions, pushPulls: c.pushPulls, pushPullFailures: c.pushPullFailures,
              packetsIn: c.packetsIn, packetsOut: c.packetsOut, bytesIn: c.bytesIn, bytesOut: c.bytesOut, streamsIn: c.streamsIn, streamsOut: c.streamsOut,
              received: { ...c.received }, drops: { ...c.drops },
            };
          },
          keyring: { install: (k) => m.installKey(k), use: (k) => m.useKey(k), remove: (k) => m.removeKey(k), list: () => m.keys() },
          encryption: () => {
            const e = m.encryption();
            return {
              encrypted: e.enabled,
              keys: e.keys,
              ...(e.enabled && keyEpoch !== undefined ? { keyEpoch } : {}),
              refused: { packets: m.counters.refused.packets, streams: m.counters.refused.streams },
            };
          },
        };
        return api;
      },
      tables: (ctx) => {
        if (membership === undefined) throw new Error('gossip: membership must start before tables');
        tables = new NetworkTables({
          host: membershipHost(membership),
          clock: realClock,
          ...(ctx.config.staleGrace !== undefined ? { config: { staleGrace: ctx.config.staleGrace } } : {}),
          onEvent: (e) => ctx.events.publish('table', e),
        });
        tables.start();
        return tables;
      },
    },
    events: {
      // The control plane applied a newer key ring (at start when this node is in a swarm, on
      // init/join, and on every rotation). This plugin loads before control, so it is subscribed
      // before control publishes its first ring, and installs the keys before anything joins the
      // peers the control plane lists.
      'control.keyring': (e, ctx) => applySwarmRing(e.gossip, ctx),
    },
    stop: async (ctx) => {
      if (retry !== undefined) clearTimeout(retry);
      reconnect?.stop();
      tables?.stop();
      if (membership !== undefined) {
        // A clean stop is a graceful leave: peers (and serf) record "left", not "failed".
        await membership.leave(3000).catch((e) => ctx.log.warn('gossip leave failed', { error: String(e) }));
        await membership.shutdown();
      }
      membership = undefined;
      tables = undefined;
      keyEpoch = undefined;
    },
  });
}
