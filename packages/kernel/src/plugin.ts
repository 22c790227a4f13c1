/**
 * A plugin is a manifest plus handler functions of (input, context). Handlers keep no hidden
 * state: everything durable lives in `ctx.store`, everything shared in `ctx.services`.
 */
import type * as t from 'io-ts';
import type { Either } from 'fp-ts/lib/Either.js';
import type { WeftError } from './errors.ts';
import type { MethodSpec } from './methods.ts';
import type { ServiceMap } from './services.ts';
import type { Store } from './contracts/store.ts';
import type { NetworkDriverMethods, IpamDriverMethods } from './methods.ts';

export const KERNEL_VERSION = '0.1.0';

export interface Manifest<C = unknown> {
  /** Unique; for drivers it is the driver name (`overlay`, `bridge`, `weft`). */
  readonly name: string;
  readonly version: string;
  /** Semver range of kernels this plugin works with, e.g. `^0.1.0`. */
  readonly kernel: string;
  /** Contracts implemented: `NetworkDriver`, `IpamDriver`, `guard`, or service names. */
  readonly provides: readonly string[];
  /** Services (or `plugin:NAME`) that must be loaded. */
  readonly requires?: readonly string[];
  /** Services used when present. */
  readonly optional?: readonly string[];
  readonly description?: string;
  /** Decodes the plugin's configuration; failures are reported at load with the field path. */
  readonly config?: t.Type<C, unknown, unknown>;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface Services {
  get<K extends keyof ServiceMap>(name: K): ServiceMap[K];
  get(name: string): unknown;
  has(name: string): boolean;
}

export interface EventSink {
  publish(topic: string, event: unknown): void;
}

/** The target of an invocation: a plugin name (drivers are named after their plugin). */
export type InvokeFn = (plugin: string, method: string, input: unknown) => Promise<Either<WeftError, unknown>>;

export interface Context<C = unknown> {
  readonly plugin: string;
  readonly config: C;
  readonly store: Store;
  readonly services: Services;
  readonly events: EventSink;
  readonly log: Logger;
  now(): number;
  /** Calls another plugin through the kernel (decode, guards, encode all apply). */
  readonly invoke: InvokeFn;
  /** Set while handling an invocation. */
  readonly method?: string;
}

export type HandlerResult<O> = O | Either<WeftError, O>;
export type Handler<I, O, C = unknown> = (input: I, ctx: Context<C>) => Promise<HandlerResult<O>> | HandlerResult<O>;

type HandlersOf<T extends Record<string, MethodSpec<any, any>>, C> = {
  [K in keyof T]?: T[K] extends MethodSpec<infer I, infer O> ? Handler<I, O, C> : never;
};

export interface Handlers<C = unknown> {
  NetworkDriver?: HandlersOf<typeof NetworkDriverMethods, C>;
  IpamDriver?: HandlersOf<typeof IpamDriverMethods, C>;
  [contract: string]: Record<string, Handler<any, any, C> | undefined> | undefined;
}

export type GuardPhase = 'before' | 'after';

export interface GuardCall {
  readonly method: string;
  /** The plugin being invoked. */
  readonly target: string;
  readonly input: unknown;
  /** Present in the after phase. */
  readonly output?: unknown;
}

/** Returned by a guard: nothing (allow), a veto (refuse), or warnings (allow, tell the caller). */
export type GuardVerdict = void | undefined | { readonly veto: string; readonly hint?: string } | { readonly warn: string };

export interface Guard<C = unknown> {
  readonly name: string;
  /** Method names (`NetworkDriver.Join`) or `*`. */
  readonly hooks: readonly string[];
  readonly phase: GuardPhase;
  /** Lower runs first; ties broken by name. */
  readonly order: number;
  check(call: GuardCall, ctx: Context<C>): Promise<GuardVerdict> | GuardVerdict;
}

export type ServiceFactory<C, S> = (ctx: Context<C>) => Promise<S> | S;
export type EventHandler<C = unknown> = (event: any, ctx: Context<C>) => Promise<void> | void;

export interface PluginDefinition<C = unknown> {
  readonly manifest: Manifest<C>;
  readonly handlers?: Handlers<C>;
  /** Methods of contracts this plugin defines (beyond NetworkDriver/IpamDriver). */
  readonly methods?: readonly MethodSpec<any, any>[];
  readonly services?: { readonly [K in keyof ServiceMap]?: ServiceFactory<C, ServiceMap[K]> } & {
    readonly [name: string]: ServiceFactory<C, unknown> | undefined;
  };
  readonly guards?: readonly Guard<C>[];
  /** Event triggers: topic → handler (`membership`, `table`, or a plugin's own topics). */
  readonly events?: { readonly [topic: string]: EventHandler<C> | undefined };
  /**
   * Called once at load, after this plugin's services exist and its dependencies have started:
   * load and verify durable state here, so a corrupt state file stops the agent at start-up
   * rather than at first use. A thrown error or a Left fails the load.
   */
  readonly start?: (ctx: Context<C>) => Promise<void | Either<WeftError, void>> | void | Either<WeftError, void>;
  /** Called when the kernel stops; release what the services hold. */
  readonly stop?: (ctx: Context<C>) => Promise<void> | void;
}

/** Identity helper that gives plugin authors type inference. */
export function definePlugin<C = unknown>(def: PluginDefinition<C>): PluginDefinition<C> {
  return def;
}
