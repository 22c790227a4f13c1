/**
 * Errors are values from a closed set of categories. Every error carries a stable code, the
 * name of the plugin that raised it, a sentence-case message that quotes the bad value and says
 * what to do, and — for bad input — the JSON path of the offending field.
 *
 * Categories mirror libnetwork's typed errors (types.BadRequestError, NotFoundError, ...), so a
 * caller can map them to HTTP statuses or CLI exit codes without parsing messages.
 */
import type { Either } from 'fp-ts/lib/Either.js';

export const ErrorCategories = [
  'BadRequest',
  'NotFound',
  'Conflict',
  'Forbidden',
  'Unsupported',
  'Unavailable',
  'NotImplemented',
  'Internal',
] as const;
export type ErrorCategory = (typeof ErrorCategories)[number];

/** Stable codes per category; plugins may add more specific codes of the form `WEFT_<AREA>_<WHAT>`. */
export const CategoryCode: Readonly<Record<ErrorCategory, string>> = {
  BadRequest: 'WEFT_BAD_REQUEST',
  NotFound: 'WEFT_NOT_FOUND',
  Conflict: 'WEFT_CONFLICT',
  Forbidden: 'WEFT_FORBIDDEN',
  Unsupported: 'WEFT_UNSUPPORTED',
  Unavailable: 'WEFT_UNAVAILABLE',
  NotImplemented: 'WEFT_NOT_IMPLEMENTED',
  Internal: 'WEFT_INTERNAL',
};

/** Codes the kernel itself raises. */
export const KernelCodes = {
  missingDependency: 'WEFT_KERNEL_MISSING_DEPENDENCY',
  incompatibleKernel: 'WEFT_KERNEL_INCOMPATIBLE',
  duplicateProvider: 'WEFT_KERNEL_DUPLICATE_PROVIDER',
  duplicatePlugin: 'WEFT_KERNEL_DUPLICATE_PLUGIN',
  dependencyCycle: 'WEFT_KERNEL_DEPENDENCY_CYCLE',
  badManifest: 'WEFT_KERNEL_BAD_MANIFEST',
  badConfig: 'WEFT_KERNEL_BAD_CONFIG',
  badInput: 'WEFT_KERNEL_BAD_INPUT',
  badOutput: 'WEFT_KERNEL_BAD_OUTPUT',
  unknownMethod: 'WEFT_KERNEL_UNKNOWN_METHOD',
  noProvider: 'WEFT_KERNEL_NO_PROVIDER',
  guardVeto: 'WEFT_KERNEL_GUARD_VETO',
  handlerThrew: 'WEFT_KERNEL_HANDLER_THREW',
} as const;

export interface WeftError {
  readonly _tag: 'WeftError';
  readonly category: ErrorCategory;
  /** Stable, machine-readable code. */
  readonly code: string;
  /** The plugin (or `kernel`) that raised the error. */
  readonly plugin: string;
  /** One sentence, sentence case, quoting the bad value; says what to do where it can. */
  readonly message: string;
  /** JSON path of the offending field for bad input, e.g. `IPv4Data[0].Pool`. */
  readonly path?: string;
  /** The offending value, as received. */
  readonly value?: unknown;
  /** What the caller can do about it. */
  readonly hint?: string;
}

export interface ErrorDetails {
  readonly code?: string;
  readonly path?: string;
  readonly value?: unknown;
  readonly hint?: string;
}

export function weftError(
  category: ErrorCategory,
  plugin: string,
  message: string,
  details: ErrorDetails = {},
): WeftError {
  const e: { -readonly [K in keyof WeftError]: WeftError[K] } = {
    _tag: 'WeftError',
    category,
    code: details.code ?? CategoryCode[category],
    plugin,
    message,
  };
  if (details.path !== undefined) e.path = details.path;
  if ('value' in details) e.value = details.value;
  if (details.hint !== undefined) e.hint = details.hint;
  return e;
}

/** Shorthands, one per category: `errors.notFound('ipam', 'Pool "x" not found')`. */
export const errors = {
  badRequest: (plugin: string, message: string, d?: ErrorDetails) => weftError('BadRequest', plugin, message, d),
  notFound: (plugin: string, message: string, d?: ErrorDetails) => weftError('NotFound', plugin, message, d),
  conflict: (plugin: string, message: string, d?: ErrorDetails) => weftError('Conflict', plugin, message, d),
  forbidden: (plugin: string, message: string, d?: ErrorDetails) => weftError('Forbidden', plugin, message, d),
  unsupported: (plugin: string, message: string, d?: ErrorDetails) => weftError('Unsupported', plugin, message, d),
  unavailable: (plugin: string, message: string, d?: ErrorDetails) => weftError('Unavailable', plugin, message, d),
  notImplemented: (plugin: string, message: string, d?: ErrorDetails) =>
    weftError('NotImplemented', plugin, message, d),
  internal: (plugin: string, message: string, d?: ErrorDetails) => weftError('Internal', plugin, message, d),
};

export function isWeftError(u: unknown): u is WeftError {
  return typeof u === 'object' && u !== null && (u as { _tag?: unknown })._tag === 'WeftError';
}

/**
 * An exception that carries a WeftError. Handlers may return `Left(error)` or throw this; the
 * runtime turns both into the same value. Anything else thrown becomes `Internal`.
 */
export class WeftException extends Error {
  readonly error: WeftError;
  constructor(error: WeftError) {
    super(formatError(error));
    this.name = 'WeftException';
    this.error = error;
  }
}

export function raise(error: WeftError): never {
  throw new WeftException(error);
}

/** The Right of an invocation's result, or the Left thrown as a WeftException. */
export function orRaise<T>(r: Either<WeftError, T>): T {
  if (r._tag === 'Left') raise(r.left);
  return r.right;
}

/** `overlay: Cannot create network "web": subnet 10.0.0.0/24 overlaps network "db"` */
export function formatError(e: WeftError): string {
  const where = e.path !== undefined && !e.message.includes(e.path) ? ` (at ${e.path})` : '';
  const hint = e.hint !== undefined ? ` ${e.hint}` : '';
  return `${e.plugin}: ${e.message}${where}${hint}`;
}

/**
 * `e` as a value to throw (or reject with) where a contract says its errors are WeftErrors: an
 * `Error` — with a stack, and reported by test runners (uvu stops silently with exit 0 when a
 * test throws a plain object) — that is also the WeftError itself: `isWeftError` holds and its
 * enumerable fields (what JSON sees) are exactly the WeftError's.
 */
export function throwable(e: WeftError): WeftError & Error {
  const err = new Error(e.message);
  Object.defineProperty(err, 'name', { value: `WeftError(${e.code})`, enumerable: false, configurable: true, writable: true });
  for (const [k, v] of Object.entries(e)) Object.defineProperty(err, k, { value: v, enumerable: true, configurable: true, writable: true });
  return err as WeftError & Error;
}

/** Converts anything caught into a WeftError attributed to `plugin`. */
export function fromUnknown(plugin: string, u: unknown, context?: string): WeftError {
  if (u instanceof WeftException) return u.error;
  if (isWeftError(u)) return u;
  const msg = u instanceof Error ? u.message : String(u);
  return weftError('Internal', plugin, `${context !== undefined ? `${context} failed: ` : ''}${msg}`, {
    code: KernelCodes.handlerThrew,
  });
}
