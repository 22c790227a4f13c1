import type { Store } from './contracts/store.ts';

/** An in-memory Store: for tests and for state that may be lost. Values are copied in and out. */
export function memoryStore(backing: Map<string, Uint8Array> = new Map(), prefix = ''): Store {
  return {
    async get(key) {
      const v = backing.get(prefix + key);
      return v === undefined ? undefined : v.slice();
    },
    async put(key, value) {
      backing.set(prefix + key, value.slice());
    },
    async delete(key) {
      return backing.delete(prefix + key);
    },
    async keys(p = '') {
      const full = prefix + p;
      const out: string[] = [];
      for (const k of backing.keys()) if (k.startsWith(full)) out.push(k.slice(prefix.length));
      return out.sort();
    },
    scope(p) {
      return memoryStore(backing, `${prefix}${p}/`);
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export async function getJson<T>(store: Store, key: string): Promise<T | undefined> {
  const v = await store.get(key);
  return v === undefined ? undefined : (JSON.parse(dec.decode(v)) as T);
}

export async function putJson(store: Store, key: string, value: unknown): Promise<void> {
  await store.put(key, enc.encode(JSON.stringify(value)));
}

/** Every JSON record under `prefix`, in key order, as `[key, value]` (a key deleted meanwhile is skipped). */
export async function listJson<T>(store: Store, prefix: string): Promise<[string, T][]> {
  const out: [string, T][] = [];
  for (const k of await store.keys(prefix)) {
    const v = await getJson<T>(store, k);
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}
