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
import type { ControlMethods } from './contracts/control.ts';
import type { EventMap, Topic } from './events.ts';

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
  /** Services used when present; `family.*` (e.g. `clusterStore.*`) names every service of a family. */
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
  publish<K extends Topic>(topic: K, event: EventMap[K]): void;
}

type ControlMethodTable = { readonly [K in keyof typeof ControlMethods]: (typeof ControlMethods)[K] };

/**
 * Methods whose request and response types the kernel knows, by full name (`Network.List`), so
 * `ctx.invoke` returns them typed. The kernel checks every response against the method's codec
 * before a caller sees it, so the type holds whichever plugin answers. A plugin that defines
 * methods of its own adds them by declaration merging
 * (`declare module '@weft/kernel' { interface MethodMap { 'My.Method': MethodSpec<I, O> } }`).
 */
export interface MethodMap extends ControlMethodTable {}

/** The request and response types of a method spec. */
export type SpecRequest<M> = M extends MethodSpec<infer I, any> ? I : never;
export type SpecResponse<M> = M extends MethodSpec<any, infer O> ? O : never;

/** The target of an invocation: a plugin name (drivers are named after their plugin). */
export interface InvokeFn {
  <M extends keyof MethodMap & string>(plugin: string, method: M, input: SpecRequest<MethodMap[M]>): Promise<Either<WeftError, SpecResponse<MethodMap[M]>>>;
  /** Any other method: untyped. A known method never falls through to here with a wrong input. */
  <N extends string>(plugin: string, method: N extends keyof MethodMap ? never : N, input: unknown): Promise<Either<WeftError, unknown>>;
}

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
export type EventHandler<C = unknown, E = unknown> = (event: E, ctx: Context<C>) => Promise<void> | void;

export interface PluginDefinition<C = unknown> {
  readonly manifest: Manifest<C>;
  readonly handlers?: Handlers<C>;
  /** Methods of contracts this plugin defines (beyond NetworkDriver/IpamDriver). */
  readonly methods?: readonly MethodSpec<any, any>[];
  readonly services?: { readonly [K in keyof ServiceMap]?: ServiceFactory<C, ServiceMap[K]> } & {
    readonly [name: string]: ServiceFactory<C, unknown> | undefined;
  };
  readonly guards?: readonly Guard<C>[];
  /** Event triggers: topic → handler (topics and payloads: `EventMap`). */
  readonly events?: { readonly [K in Topic]?: EventHandler<C, EventMap[K]> };
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
