/**
 * Serial execution for handlers that read-modify-write several records: the next operation starts
 * only after the previous one settled (resolved or rejected). A failure is returned to its caller
 * and does not stop the queue.
 */
export type Serial = <T>(fn: () => Promise<T>) => Promise<T>;

/** One queue: every call runs after all earlier calls have settled. */
export function createSerial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** One queue per key (e.g. per network); a key's queue is dropped once it is idle. */
export function createKeyedSerial(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * A shared/exclusive lock per key: any number of `shared` holders at once, or one `exclusive`.
 * Waiters are served in arrival order (a waiting exclusive holds back later shared ones, so it is
 * never starved). Not reentrant: a holder that asks again for the same key waits for itself.
 */
export interface KeyedRwLock {
  shared<T>(key: string, fn: () => Promise<T>): Promise<T>;
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export function createKeyedRwLock(): KeyedRwLock {
  interface State {
    readers: number;
    writer: boolean;
    waiting: { exclusive: boolean; go: () => void }[];
  }
  const states = new Map<string, State>();
  const pump = (key: string, s: State) => {
    while (s.waiting.length > 0 && !s.writer) {
      const w = s.waiting[0]!;
      if (w.exclusive && s.readers > 0) break;
      s.waiting.shift();
      if (w.exclusive) s.writer = true;
      else s.readers++;
      w.go();
    }
    if (s.readers === 0 && !s.writer && s.waiting.length === 0) states.delete(key);
  };
  const run = async <T>(key: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> => {
    let s = states.get(key);
    if (s === undefined) states.set(key, (s = { readers: 0, writer: false, waiting: [] }));
    const st = s;
    await new Promise<void>((go) => {
      st.waiting.push({ exclusive, go });
      pump(key, st);
    });
    try {
      return await fn();
    } finally {
      if (exclusive) st.writer = false;
      else st.readers--;
      pump(key, st);
    }
  };
  return {
    shared: (key, fn) => run(key, false, fn),
    exclusive: (key, fn) => run(key, true, fn),
  };
}
