/**
 * store — durable state. The kernel hands every plugin `ctx.store`, scoped to its name.
 *
 * Writes (put, delete) take effect in the order they are called, also when the caller makes the
 * next one before the first has resolved: a caller may issue several and wait for them together
 * (IPAM does, so concurrent requests share the local store's journal flushes).
 */
export interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Durable and atomic once the promise resolves: after a crash the key holds the old or the new value. */
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Keys under `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** A view whose keys are prefixed with `prefix + '/'`. */
  scope(prefix: string): Store;
}
