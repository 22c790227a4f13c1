import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore, formatError, type Kernel, type PluginDefinition, type PluginEntry, type Store, type WeftError } from '@weft/kernel';

export type PluginFactory = () => PluginDefinition<any> | Promise<PluginDefinition<any>>;

/** Loads `plugin` (plus `extra`) into a fresh kernel over `store`; throws with every load error. */
export async function kernelWith(plugin: PluginDefinition<any>, opts: { store?: Store; extra?: readonly PluginEntry[]; config?: unknown } = {}): Promise<Kernel> {
  const k = createKernel({ store: opts.store ?? memoryStore() });
  const r = await k.load([...(opts.extra ?? []), { plugin, config: opts.config }]);
  if (isLeft(r)) throw new Error(`plugin failed to load: ${r.left.map(formatError).join('; ')}`);
  return k;
}

/** Unwraps a Right or throws a readable error (for tests). */
export function ok<T>(r: Either<WeftError, T>, what = 'call'): T {
  if (isLeft(r)) throw new Error(`${what} failed: ${formatError(r.left)}`);
  return r.right;
}

/** Unwraps a Left or throws (for tests). */
export function err<T>(r: Either<WeftError, T>, what = 'call'): WeftError {
  if (!isLeft(r)) throw new Error(`${what} should have failed but returned ${JSON.stringify(r.right)}`);
  return r.left;
}
