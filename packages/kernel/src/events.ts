/** A small synchronous-publish, asynchronous-delivery event bus (membership, table, ...). */
import type { ControlKeyRingEvent, ControlLeaderEvent, ControlNodeRemovedEvent, ControlSnapshotEvent } from './contracts/control.ts';
import type { EngineAttachEvent, EngineNetworkEvent, EngineSandboxEvent } from './contracts/engine.ts';
import type { MemberEvent } from './contracts/membership.ts';
import type { ServiceEvent } from './contracts/services.ts';
import type { TableEvent } from './contracts/tables.ts';

/**
 * Every event topic and its payload. `publish`, `subscribe` and plugins' `events` handlers are
 * typed by it, so an unknown topic or a wrong payload is a compile error. A plugin that defines
 * topics of its own adds them by declaration merging (as fastify's plugins extend its types):
 *
 * ```ts
 * declare module '@weft/kernel' {
 *   interface EventMap { 'myplugin.ready': { at: number } }
 * }
 * ```
 */
export interface EventMap {
  /** A gossip member joined, changed state or left (provider: `membership`). */
  membership: MemberEvent;
  /** A gossip table entry was created, updated or deleted, local or remote (provider: `tables`). */
  table: TableEvent;
  /** This node applied a newer copy of the manager's state (provider: `control`). */
  'control.snapshot': ControlSnapshotEvent;
  /** This node applied a newer data-path key ring (provider: `control`). */
  'control.keyring': ControlKeyRingEvent;
  /** `node rm` on this manager (provider: `control`). */
  'control.node.removed': ControlNodeRemovedEvent;
  /** This manager gained or lost the leader lease. */
  'control.leader': ControlLeaderEvent;
  /** A network was created or removed through this host's engine (provider: `engine`). */
  'engine.network': EngineNetworkEvent;
  /** A sandbox was created or destroyed on this host (provider: `engine`). */
  'engine.sandbox': EngineSandboxEvent;
  /** A sandbox of this host was attached to or detached from a network (provider: `engine`). */
  'engine.attach': EngineAttachEvent;
  /** A service was created, updated or removed on this manager (provider: `services`). */
  'services.service': ServiceEvent;
}

export type Topic = keyof EventMap & string;
export type Listener<K extends Topic = Topic> = (event: EventMap[K]) => void | Promise<void>;

export interface EventBus {
  publish<K extends Topic>(topic: K, event: EventMap[K]): void;
  subscribe<K extends Topic>(topic: K, fn: Listener<K>): () => void;
  /** Resolves once every delivery started so far has settled (for tests). */
  drain(): Promise<void>;
}

type AnyListener = (event: unknown) => void | Promise<void>;

export function createEventBus(onError: (topic: string, err: unknown) => void): EventBus {
  const listeners = new Map<string, Set<AnyListener>>();
  let pending: Promise<unknown>[] = [];
  return {
    publish(topic, event) {
      const set = listeners.get(topic);
      if (set === undefined) return;
      for (const fn of [...set]) {
        const p = Promise.resolve()
          .then(() => fn(event))
          .catch((err) => onError(topic, err));
        pending.push(p);
      }
      if (pending.length > 1024) pending = pending.slice(-256);
    },
    subscribe(topic, fn) {
      let set = listeners.get(topic);
      if (set === undefined) listeners.set(topic, (set = new Set()));
      const f = fn as AnyListener;
      set.add(f);
      return () => set!.delete(f);
    },
    async drain() {
      while (pending.length > 0) {
        const p = pending;
        pending = [];
        await Promise.all(p);
      }
    },
  };
}
