/**
 * The kernel: loads plugins, starts their services in dependency order, routes invocations
 * (decode input → guards before → handler → guards after → encode output) and events.
 */
import { left, right, isLeft, type Either } from 'fp-ts/lib/Either.js';
import { decode } from './codecs.ts';
import { errors, fromUnknown, isWeftError, KernelCodes, type WeftError } from './errors.ts';
import { createEventBus, type EventBus, type EventMap, type Topic } from './events.ts';
import type { MethodSpec } from './methods.ts';
import {
  KERNEL_VERSION,
  type Context,
  type EventHandler,
  type Guard,
  type GuardVerdict,
  type Handler,
  type InvokeFn,
  type MethodMap,
  type SpecRequest,
  type SpecResponse,
  type Logger,
  type PluginDefinition,
  type Services,
} from './plugin.ts';
import { resolvePlugins, type LoadedPlugin, type PluginEntry, type Resolution } from './registry.ts';
import type { ServiceMap } from './services.ts';
import type { Store } from './contracts/store.ts';
import { memoryStore } from './store.ts';

export interface KernelOptions {
  /** Durable state; each plugin gets `store.scope(pluginName)`. Default: in memory. */
  readonly store?: Store;
  readonly log?: Logger;
  readonly now?: () => number;
  /** Overrides the kernel version (tests of range checks). */
  readonly version?: string;
}

export interface InvokeOptions {
  /** Collects guard warnings. */
  readonly warnings?: string[];
}

export interface Kernel {
  readonly version: string;
  /** Resolves and starts the plugins. Load errors are all returned, coded. */
  load(entries: readonly PluginEntry[]): Promise<Either<readonly WeftError[], void>>;
  /** Typed for the methods of `MethodMap` (see InvokeFn); `invoke<O>(…)` states the output type of any other. */
  invoke<M extends keyof MethodMap & string>(plugin: string, method: M, input: SpecRequest<MethodMap[M]>, opts?: InvokeOptions): Promise<Either<WeftError, SpecResponse<MethodMap[M]>>>;
  invoke<O = unknown, N extends string = string>(plugin: string, method: N extends keyof MethodMap ? never : N, input: unknown, opts?: InvokeOptions): Promise<Either<WeftError, O>>;
  /** Method spec by full name. */
  method(name: string): MethodSpec<any, any> | undefined;
  /** Plugins providing `contract`, in load order. */
  providers(contract: string): readonly string[];
  plugin(name: string): PluginDefinition<any> | undefined;
  service<K extends keyof ServiceMap>(name: K): ServiceMap[K] | undefined;
  service(name: string): unknown;
  publish<K extends Topic>(topic: K, event: EventMap[K]): void;
  readonly events: EventBus;
  stop(): Promise<void>;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

interface Running {
  readonly lp: LoadedPlugin;
  readonly ctx: Context<any>;
}

export function createKernel(opts: KernelOptions = {}): Kernel {
  const version = opts.version ?? KERNEL_VERSION;
  const log = opts.log ?? silentLogger;
  const rootStore = opts.store ?? memoryStore();
  const now = opts.now ?? (() => Date.now());
  const events = createEventBus((topic, err) => log.error(`event handler for "${topic}" failed`, { error: String(err) }));
  const running = new Map<string, Running>();
  const serviceInstances = new Map<string, unknown>();
  let resolution: Resolution | undefined;
  let guards: { plugin: string; guard: Guard<any> }[] = [];
  const unsubscribers: (() => void)[] = [];

  const pluginLogger = (name: string): Logger => ({
    debug: (m, f) => log.debug(m, { plugin: name, ...f }),
    info: (m, f) => log.info(m, { plugin: name, ...f }),
    warn: (m, f) => log.warn(m, { plugin: name, ...f }),
    error: (m, f) => log.error(m, { plugin: name, ...f }),
  });

  const servicesFor = (lp: LoadedPlugin): Services => {
    const declared = [...(lp.def.manifest.requires ?? []), ...(lp.def.manifest.optional ?? []), ...lp.def.manifest.provides];
    const exact = new Set(declared);
    const families = declared.filter((d) => d.endsWith('.*')).map((d) => d.slice(0, -1));
    const allowed = { has: (name: string) => exact.has(name) || families.some((f) => name.startsWith(f)) };
    return {
      get(name: string): any {
        if (!allowed.has(name)) {
          throw new Error(`plugin "${lp.def.manifest.name}" uses service "${name}" without declaring it in manifest.requires`);
        }
        return serviceInstances.get(name);
      },
      has: (name: string) => allowed.has(name) && serviceInstances.has(name),
    } as Services;
  };

  const makeContext = (lp: LoadedPlugin): Context<any> => {
    const name = lp.def.manifest.name;
    return {
      plugin: name,
      config: lp.config,
      store: rootStore.scope(name),
      services: servicesFor(lp),
      events: { publish: (topic, event) => events.publish(topic, event) },
      log: pluginLogger(name),
      now,
      // Typed by MethodMap: every response was checked against its method's codec by invoke().
      invoke: ((p: string, m: string, i: unknown) => invoke(p, m, i)) as InvokeFn,
    };
  };

  async function runGuards(
    phase: 'before' | 'after',
    methodName: string,
    target: string,
    input: unknown,
    output: unknown,
    warnings: string[] | undefined,
  ): Promise<WeftError | undefined> {
    for (const { plugin, guard } of guards) {
      if (guard.phase !== phase) continue;
      if (!guard.hooks.includes('*') && !guard.hooks.includes(methodName)) continue;
      const r = running.get(plugin);
      if (r === undefined) continue;
      let verdict: GuardVerdict;
      try {
        verdict = await guard.check(phase === 'after' ? { method: methodName, target, input, output } : { method: methodName, target, input }, {
          ...r.ctx,
          method: methodName,
        });
      } catch (err) {
        return fromUnknown(plugin, err, `guard "${guard.name}"`);
      }
      if (verdict === undefined || verdict === null) continue;
      if ('veto' in verdict) {
        return errors.forbidden(plugin, `Guard "${guard.name}" refused ${methodName}: ${verdict.veto}`, {
          code: KernelCodes.guardVeto,
          ...(verdict.hint !== undefined ? { hint: verdict.hint } : {}),
          value: guard.name,
        });
      }
      if ('warn' in verdict) {
        warnings?.push(`${guard.name}: ${verdict.warn}`);
        log.warn(verdict.warn, { guard: guard.name, method: methodName });
      }
    }
    return undefined;
  }

  async function invoke<O>(pluginName: string, methodName: string, input: unknown, iopts: InvokeOptions = {}): Promise<Either<WeftError, O>> {
    const spec = resolution?.methods.get(methodName);
    if (spec === undefined) {
      return left(errors.notImplemented('kernel', `Unknown method "${methodName}"`, { code: KernelCodes.unknownMethod, value: methodName }));
    }
    const r = running.get(pluginName);
    if (r === undefined) {
      return left(errors.notFound('kernel', `No plugin named "${pluginName}" is loaded; loaded plugins: ${[...running.keys()].join(', ') || 'none'}`, { code: KernelCodes.noProvider, value: pluginName }));
    }
    const handler = (r.lp.def.handlers?.[spec.contract] as Record<string, Handler<unknown, unknown> | undefined> | undefined)?.[spec.method];
    if (handler === undefined) {
      if (spec.fallback !== undefined && r.lp.def.manifest.provides.includes(spec.contract)) return right(spec.fallback() as O);
      return left(errors.notImplemented(pluginName, `Plugin "${pluginName}" does not implement ${methodName}`, { code: KernelCodes.unknownMethod, value: methodName }));
    }
    const decoded = decode(spec.request, input === undefined || input === '' ? {} : input);
    if (!decoded.ok) {
      const f = decoded.failure;
      return left(errors.badRequest(pluginName, `Invalid ${methodName} request: ${f.path === '' ? '' : `${f.path}: `}${f.message}`, {
        code: KernelCodes.badInput,
        path: f.path,
        value: f.value,
      }));
    }
    const before = await runGuards('before', methodName, pluginName, decoded.value, undefined, iopts.warnings);
    if (before !== undefined) return left(before);
    let result: unknown;
    try {
      result = await handler(decoded.value, { ...r.ctx, method: methodName });
    } catch (err) {
      return left(fromUnknown(pluginName, err, methodName));
    }
    if (isEither(result)) {
      if (isLeft(result)) return left(isWeftError(result.left) ? result.left : fromUnknown(pluginName, result.left, methodName));
      result = result.right;
    }
    const out = decode(spec.response, result ?? {});
    if (!out.ok) {
      const f = out.failure;
      return left(errors.internal(pluginName, `Plugin "${pluginName}" returned an invalid ${methodName} response: ${f.path === '' ? '' : `${f.path}: `}${f.message}`, {
        code: KernelCodes.badOutput,
        path: f.path,
        value: f.value,
      }));
    }
    const after = await runGuards('after', methodName, pluginName, decoded.value, out.value, iopts.warnings);
    if (after !== undefined) return left(after);
    return right(spec.response.encode(out.value) as O);
  }

  return {
    version,
    events,
    async load(entries) {
      const res = resolvePlugins(entries, version);
      if (!res.ok) return left(res.errors);
      resolution = res.value;
      for (const lp of res.value.order) {
        const ctx = makeContext(lp);
        const name = lp.def.manifest.name;
        running.set(name, { lp, ctx });
        for (const p of lp.def.manifest.provides) {
          const factory = lp.def.services?.[p];
          if (typeof factory !== 'function') continue;
          try {
            serviceInstances.set(p, await factory(ctx));
          } catch (err) {
            return left([fromUnknown(name, err, `starting service "${p}"`)]);
          }
        }
        if (lp.def.start !== undefined) {
          try {
            const r = await lp.def.start(ctx);
            if (isEither(r) && isLeft(r)) return left([isWeftError(r.left) ? r.left : fromUnknown(name, r.left, 'start')]);
          } catch (err) {
            return left([fromUnknown(name, err, 'start')]);
          }
        }
        for (const g of lp.def.guards ?? []) guards.push({ plugin: name, guard: g });
        for (const [topic, fn] of Object.entries(lp.def.events ?? {}) as [Topic, EventHandler<unknown, never> | undefined][]) {
          if (fn === undefined) continue;
          unsubscribers.push(events.subscribe(topic, (e) => fn(e as never, ctx)));
        }
      }
      guards = guards.sort((a, b) => a.guard.order - b.guard.order || a.guard.name.localeCompare(b.guard.name));
      return right(undefined);
    },
    invoke: invoke as Kernel['invoke'],
    method: (name) => resolution?.methods.get(name),
    providers(contract) {
      return [...running.values()].filter((r) => r.lp.def.manifest.provides.includes(contract)).map((r) => r.lp.def.manifest.name);
    },
    plugin: (name) => running.get(name)?.lp.def,
    service: ((name: string) => serviceInstances.get(name)) as Kernel['service'],
    publish: (topic, event) => events.publish(topic, event),
    async stop() {
      for (const u of unsubscribers.splice(0)) u();
      const order = [...running.values()].reverse();
      for (const r of order) {
        try {
          await r.lp.def.stop?.(r.ctx);
        } catch (err) {
          log.error('plugin stop failed', { plugin: r.lp.def.manifest.name, error: String(err) });
        }
      }
      await events.drain();
      running.clear();
      serviceInstances.clear();
      guards = [];
    },
  };
}

function isEither(u: unknown): u is Either<unknown, unknown> {
  if (typeof u !== 'object' || u === null) return false;
  const tag = (u as { _tag?: unknown })._tag;
  return (tag === 'Left' && 'left' in u) || (tag === 'Right' && 'right' in u);
}
