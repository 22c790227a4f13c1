/** A small synchronous-publish, asynchronous-delivery event bus (membership, table, ...). */
export type Listener = (event: unknown) => void | Promise<void>;

export interface EventBus {
  publish(topic: string, event: unknown): void;
  subscribe(topic: string, fn: Listener): () => void;
  /** Resolves once every delivery started so far has settled (for tests). */
  drain(): Promise<void>;
}

export function createEventBus(onError: (topic: string, err: unknown) => void): EventBus {
  const listeners = new Map<string, Set<Listener>>();
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
      set.add(fn);
      return () => set!.delete(fn);
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
