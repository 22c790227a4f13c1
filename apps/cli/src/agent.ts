/** Reaching the agent: the @weft/api client, loaded on first use, and error wording for features it lacks. */
import type { Client } from '@weft/api';
import type { Io, Parsed } from './spec.ts';
import { UserError } from './spec.ts';
import { progress } from './format.ts';

export type Api = typeof import('@weft/api');

let api: Api | undefined;
export async function loadApi(): Promise<Api> {
  api ??= await import('@weft/api');
  return api;
}

/** The typed client; every request shows a generic progress line if it takes over a second. */
export async function client(p: Parsed, io: Io): Promise<Client> {
  const a = await loadApi();
  const c = a.createClient(a.socketFromHost(p.host));
  const wrapped: Record<string, unknown> = { socketPath: c.socketPath };
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'function') wrapped[k] = (...args: unknown[]) => progress(io, 'Waiting for the agent', (v as (...x: unknown[]) => Promise<unknown>)(...args), true);
  }
  return wrapped as unknown as Client;
}

/** A raw request, for endpoints the typed client does not cover yet (services, stacks). */
export async function call<T>(p: Parsed, io: Io, method: string, path: string, body?: unknown): Promise<T> {
  const a = await loadApi();
  return progress(io, 'Waiting for the agent', a.request<T>(a.socketFromHost(p.host), method, path, body), true);
}

export async function isStatus(e: unknown, ...status: number[]): Promise<boolean> {
  const a = await loadApi();
  return e instanceof a.ApiError && status.includes(e.status);
}

/**
 * For features the agent may not serve yet (services, stacks): a 404/405/501 on `probe` (a
 * listing, which never answers 404 for a missing object) means the route is unknown, so the error
 * says so; any other failure of `work` is reported as the agent phrased it.
 */
export async function feature<T>(p: Parsed, io: Io, what: string, probe: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (!(await isStatus(e, 404, 405, 501))) throw e;
    if ((await isStatus(e, 405, 501)) || (await unsupported(p, io, probe))) {
      throw new UserError(`${what} are not supported by this agent yet (it has no ${probe} endpoint); upgrade weft-agent`);
    }
    throw e;
  }
}

async function unsupported(p: Parsed, io: Io, probe: string): Promise<boolean> {
  try {
    await call(p, io, 'GET', probe);
    return false;
  } catch (e) {
    return isStatus(e, 404, 405, 501);
  }
}
