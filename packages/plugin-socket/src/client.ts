/**
 * Mounts an out-of-process plugin — any language, Docker's plugin protocol over a unix socket —
 * as a kernel plugin. Its handlers forward each call; 404 becomes NotImplemented.
 */
import * as http from 'node:http';
import { left, right, type Either } from 'fp-ts/lib/Either.js';
import {
  BuiltinContracts,
  ErrorCategories,
  KERNEL_VERSION,
  weftError,
  type ErrorCategory,
  type Handler,
  type Handlers,
  type PluginDefinition,
  type WeftError,
} from '@weft/kernel';

export interface PostResult {
  readonly status: number;
  readonly body: string;
}

/** One POST to a unix-socket plugin, with Docker's headers. */
export function postUnix(socketPath: string, path: string, body: unknown, timeoutMs = 30_000): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : `${JSON.stringify(body)}\n`;
    const req = http.request(
      {
        socketPath,
        path,
        method: 'POST',
        // One connection per call: a pooled keep-alive socket to a restarted plugin fails with EPIPE.
        agent: false,
        headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath}${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function categoryFor(status: number): ErrorCategory {
  if (status === 400) return 'BadRequest';
  if (status === 403) return 'Forbidden';
  if (status === 409) return 'Conflict';
  if (status === 404) return 'NotImplemented';
  if (status === 503) return 'Unavailable';
  return 'Internal';
}

export async function call(name: string, socketPath: string, method: string, input: unknown, timeoutMs?: number): Promise<Either<WeftError, unknown>> {
  let r: PostResult;
  try {
    r = await postUnix(socketPath, `/${method}`, input, timeoutMs);
  } catch (err) {
    return left(weftError('Unavailable', name, `Plugin socket ${socketPath} did not answer ${method}: ${(err as Error).message}`, { hint: 'Check that the plugin process is running.' }));
  }
  let parsed: unknown;
  try {
    parsed = r.body.trim() === '' ? {} : JSON.parse(r.body);
  } catch {
    parsed = undefined;
  }
  const errText = (o: unknown): string | undefined => {
    if (typeof o !== 'object' || o === null) return undefined;
    const e = (o as Record<string, unknown>).Err ?? (o as Record<string, unknown>).Error;
    return typeof e === 'string' && e !== '' ? e : undefined;
  };
  if (r.status !== 200) {
    const msg = errText(parsed) ?? r.body.trim();
    const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const cat = typeof o.Category === 'string' && (ErrorCategories as readonly string[]).includes(o.Category) ? (o.Category as ErrorCategory) : categoryFor(r.status);
    return left(
      weftError(cat, name, `${method}: ${msg}`, {
        ...(typeof o.Code === 'string' ? { code: o.Code } : {}),
        ...(typeof o.Path === 'string' ? { path: o.Path } : {}),
      }),
    );
  }
  const msg = errText(parsed);
  if (msg !== undefined) return left(weftError('Internal', name, `${method}: ${msg}`));
  if (parsed === undefined) return left(weftError('Internal', name, `${method}: the plugin answered with invalid JSON: ${JSON.stringify(r.body.slice(0, 60))}`));
  return right(parsed);
}

export interface MountOptions {
  /** Name the plugin is known by in the kernel. */
  readonly name: string;
  readonly socketPath: string;
  readonly timeoutMs?: number;
  readonly version?: string;
}

/** Activates the remote plugin and returns a kernel plugin forwarding the contracts it implements. */
export async function mountPluginSocket(opts: MountOptions): Promise<Either<WeftError, PluginDefinition>> {
  const act = await call(opts.name, opts.socketPath, 'Plugin.Activate', undefined, opts.timeoutMs);
  if (act._tag === 'Left') return act;
  const impl = (act.right as { Implements?: unknown }).Implements;
  if (!Array.isArray(impl)) {
    return left(weftError('BadRequest', opts.name, `Plugin.Activate answered ${JSON.stringify(act.right)}, expected {"Implements":[...]}`));
  }
  const provides = impl.filter((c): c is string => typeof c === 'string' && BuiltinContracts[c] !== undefined);
  const handlers: Handlers = {};
  for (const contract of provides) {
    const table: Record<string, Handler<unknown, unknown>> = {};
    for (const spec of Object.values(BuiltinContracts[contract]!)) {
      table[spec.method] = (input) => call(opts.name, opts.socketPath, spec.name, spec.request.encode(input), opts.timeoutMs);
    }
    handlers[contract] = table;
  }
  return right({
    manifest: {
      name: opts.name,
      version: opts.version ?? '0.0.0',
      kernel: `^${KERNEL_VERSION}`,
      provides,
      description: `remote plugin at ${opts.socketPath}`,
    },
    handlers,
  });
}
