/**
 * Serves kernel handlers over Docker's remote plugin protocol on a unix socket, as Docker 20.10
 * speaks it (shared/specs/docker-plugin-protocol.md):
 *
 * - every call is `POST /<Contract>.<Method>`; argument-less calls have an empty body;
 * - `/Plugin.Activate` answers `{"Implements":[...]}`;
 * - a method the plugin lacks answers 404 (Docker then treats it as not implemented — and
 *   tolerates it for Program/RevokeExternalConnectivity), so no other error ever uses 404;
 * - errors answer a non-200 status with `{"Err": msg}`; Docker reports them as
 *   "NetworkDriver.Join: msg". IpamDriver replies also carry `Error` (the field Docker reads in
 *   200 replies), so either reading works;
 * - requests are handled concurrently (Docker interleaves them, e.g. `docker rm -f a b c`).
 */
import * as http from 'node:http';
import * as fs from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { formatError, type ErrorCategory, type Kernel, type Logger, type WeftError } from '@weft/kernel';

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

export interface GatewayOptions {
  readonly kernel: Kernel;
  readonly socketPath: string;
  /** Plugin serving `NetworkDriver.*` (absent: not advertised). */
  readonly networkDriver?: string;
  /** Plugin serving `IpamDriver.*` (absent: not advertised). */
  readonly ipamDriver?: string;
  /** Socket file mode; default 0o660. */
  readonly mode?: number;
  readonly log?: Logger;
  /** Largest accepted request body; default 4 MiB. */
  readonly maxBody?: number;
}

export interface Gateway {
  readonly socketPath: string;
  readonly requests: () => number;
  close(): Promise<void>;
}

const STATUS: Readonly<Record<ErrorCategory, number>> = {
  BadRequest: 400,
  Forbidden: 403,
  Conflict: 409,
  NotFound: 500, // never 404: Docker reads 404 as "method not implemented"
  Unsupported: 500,
  Unavailable: 503,
  NotImplemented: 404,
  Internal: 500,
};

export function statusFor(e: WeftError): number {
  return STATUS[e.category];
}

/**
 * Docker reads `Err` (non-200) or `Error` (IpamDriver, 200). `Category`, `Code` and `Path` are
 * Weft's additions: Docker ignores them, a Weft client restores the exact error from them.
 */
export function errorBody(contract: string, e: WeftError): Record<string, string> {
  const msg = formatError(e);
  const extra: Record<string, string> = { Category: e.category, Code: e.code };
  if (e.path !== undefined) extra.Path = e.path;
  return contract === 'IpamDriver' ? { Err: msg, Error: msg, ...extra } : { Err: msg, ...extra };
}

/** What the gateway answers one request with: HTTP status and body (a string is sent as text). */
export type PluginHandler = (httpMethod: string, url: string, rawBody: string) => Promise<[number, unknown]>;

/**
 * The gateway's request handling without HTTP: route `/<Contract>.<Method>`, parse the JSON
 * body, invoke the kernel, map a refusal to Docker's status and body. `servePluginSocket` serves
 * it; tests and fuzzers call it directly.
 */
export function pluginHandler(opts: Pick<GatewayOptions, 'kernel' | 'networkDriver' | 'ipamDriver' | 'log'>): PluginHandler {
  const { kernel } = opts;
  const implementsList: string[] = [];
  if (opts.networkDriver !== undefined) implementsList.push('NetworkDriver');
  if (opts.ipamDriver !== undefined) implementsList.push('IpamDriver');
  return async (method, url, raw) => {
    const path = url.split('?')[0] ?? '/';
    const m = /^\/([A-Za-z]+)\.([A-Za-z]+)$/.exec(path);
    if (method !== 'POST' || m === null) return [404, '404 page not found\n'];
    const contract = m[1]!;
    if (contract === 'Plugin' && m[2] === 'Activate') return [200, { Implements: implementsList }];
    const target = contract === 'NetworkDriver' ? opts.networkDriver : contract === 'IpamDriver' ? opts.ipamDriver : undefined;
    if (target === undefined) return [404, '404 page not found\n'];
    const fullName = `${contract}.${m[2]}`;
    if (kernel.method(fullName) === undefined) return [404, '404 page not found\n'];
    let body: unknown = {};
    const trimmed = raw.trim();
    if (trimmed !== '' && trimmed !== 'null') {
      try {
        body = JSON.parse(trimmed);
      } catch {
        const msg = `${target}: Invalid ${fullName} request: the body is not valid JSON (${JSON.stringify(trimmed.slice(0, 40))})`;
        return [400, contract === 'IpamDriver' ? { Err: msg, Error: msg } : { Err: msg }];
      }
    }
    const t0 = Date.now();
    const r = await kernel.invoke(target, fullName, body);
    if (isLeft(r)) {
      if (r.left.category === 'NotImplemented') return [404, '404 page not found\n'];
      opts.log?.warn('plugin call failed', { method: fullName, error: formatError(r.left), ms: Date.now() - t0 });
      return [statusFor(r.left), errorBody(contract, r.left)];
    }
    opts.log?.debug('plugin call', { method: fullName, ms: Date.now() - t0 });
    return [200, r.right ?? {}];
  };
}

export async function servePluginSocket(opts: GatewayOptions): Promise<Gateway> {
  const { socketPath } = opts;
  const maxBody = opts.maxBody ?? 4 << 20;
  const handle = pluginHandler(opts);
  let count = 0;

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    count++;
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody && !aborted) {
        aborted = true;
        send(res, 413, { Err: `request body larger than ${maxBody} bytes`, Error: `request body larger than ${maxBody} bytes` });
        req.destroy();
      } else if (!aborted) chunks.push(c);
    });
    req.on('end', () => {
      if (aborted) return;
      void handle(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'))
        .then(([status, body]) => send(res, status, body))
        .catch((err) => send(res, 500, { Err: `internal error: ${String(err)}`, Error: `internal error: ${String(err)}` }));
    });
    req.on('error', () => {});
  });

  const close = await listenUnix(server, socketPath, opts.mode ?? 0o660);
  return {
    socketPath,
    requests: () => count,
    close,
  };
}

/**
 * Listens on a unix socket (replacing a stale socket file, creating its directory) with `mode`,
 * and returns a close function that stops the server, drops open connections and removes the file.
 */
export async function listenUnix(server: http.Server, socketPath: string, mode: number): Promise<() => Promise<void>> {
  try {
    fs.unlinkSync(socketPath);
  } catch {
    /* absent */
  }
  fs.mkdirSync(socketPath.slice(0, socketPath.lastIndexOf('/')) || '/', { recursive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, mode);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
      try {
        fs.unlinkSync(socketPath);
      } catch {
        /* gone */
      }
    });
}
