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
