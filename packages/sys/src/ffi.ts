/**
 * Calling a C library from any runtime, for callers outside the syscall interface (the cipher on
 * the system's libsodium): koffi under Node, `Deno.dlopen` under Deno (needs --allow-ffi),
 * `bun:ffi` under Bun (the single-file agent). A small type vocabulary covers what such calls
 * need; buffers are passed as typed arrays (a subarray passes its own start), never copied.
 *
 * | type   | C                       | JavaScript              |
 * |--------|-------------------------|-------------------------|
 * | `i32`  | int                     | number                  |
 * | `u64`  | size_t, unsigned long long | number (< 2^53)      |
 * | `buf`  | pointer to bytes        | Uint8Array, or null     |
 * | `void` | void (results only)     | undefined               |
 */

export type FfiArg = 'i32' | 'u64' | 'buf';
export type FfiResult = 'i32' | 'void';
export interface FfiSignature {
  readonly args: readonly FfiArg[];
  readonly result: FfiResult;
}
export type FfiFunction = (...args: (number | Uint8Array | null)[]) => number;
export type FfiLibrary<S extends Record<string, FfiSignature>> = { readonly [K in keyof S]: FfiFunction };

/**
 * Opens the first of `names` that loads (e.g. `['libsodium.so.23', 'libsodium.so']`) and binds
 * `symbols`. Throws an Error naming every name tried and why when none loads or a symbol is missing.
 */
export async function openLibrary<S extends Record<string, FfiSignature>>(names: readonly string[], symbols: S): Promise<FfiLibrary<S>> {
  const problems: string[] = [];
  for (const name of names) {
    try {
      if ('Deno' in globalThis) return openDeno(name, symbols);
      if ('Bun' in globalThis) return await openBun(name, symbols);
      return await openNode(name, symbols);
    } catch (e) {
      problems.push(`${name}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load ${names.join(' or ')} (${problems.join('; ')})`);
}

async function openNode<S extends Record<string, FfiSignature>>(name: string, symbols: S): Promise<FfiLibrary<S>> {
  const koffi = (await import('koffi')).default;
  const lib = koffi.load(name);
  const C: Record<FfiArg | FfiResult, string> = { i32: 'int', u64: 'uint64_t', buf: 'uint8_t *', void: 'void' };
  const out: Record<string, FfiFunction> = {};
  for (const [sym, sig] of Object.entries(symbols)) {
    out[sym] = lib.func(sym, C[sig.result], sig.args.map((a) => C[a])) as FfiFunction;
  }
  return out as FfiLibrary<S>;
}

interface DenoDlopen {
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, FfiFunction> };
}
function openDeno<S extends Record<string, FfiSignature>>(name: string, symbols: S): FfiLibrary<S> {
  const D = (globalThis as unknown as { Deno: DenoDlopen }).Deno;
  const T: Record<FfiArg | FfiResult, string> = { i32: 'i32', u64: 'usize', buf: 'buffer', void: 'void' };
  const spec: Record<string, { parameters: string[]; result: string }> = {};
  for (const [sym, sig] of Object.entries(symbols)) spec[sym] = { parameters: sig.args.map((a) => T[a]), result: T[sig.result] };
  return D.dlopen(name, spec).symbols as FfiLibrary<S>;
}

interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: Record<string, FfiFunction> };
}
async function openBun<S extends Record<string, FfiSignature>>(name: string, symbols: S): Promise<FfiLibrary<S>> {
  const specifier = 'bun:ffi';
  const ffi = (await import(specifier)) as BunFfi;
  const T: Record<FfiArg | FfiResult, string> = { i32: 'i32', u64: 'u64_fast', buf: 'ptr', void: 'void' };
  const spec: Record<string, { args: string[]; returns: string }> = {};
  for (const [sym, sig] of Object.entries(symbols)) spec[sym] = { args: sig.args.map((a) => T[a]), returns: T[sig.result] };
  return ffi.dlopen(name, spec).symbols as FfiLibrary<S>;
}
