/**
 * The agent's /services, /tasks and /stacks routes (Docker Engine API shapes, packages/api),
 * as plain route descriptions the agent's router mounts. Bodies are decoded here, at the edge.
 */
import { decode, errors, raise } from '@weft/kernel';
import { ServiceSpec, StackDeployRequest } from '@weft/api';
import type * as t from 'io-ts';
import type { ServicesApi } from '@weft/kernel';
import { deployStack, listStacks, removeStack } from './stack.ts';

export interface ServiceRoute {
  readonly method: string;
  /** `/services/{id}`: `{name}` segments become params. */
  readonly pattern: string;
  readonly fn: (p: Readonly<Record<string, string>>, q: URLSearchParams, body: unknown) => Promise<unknown>;
}

function body<A>(codec: t.Type<A, unknown, unknown>, u: unknown): A {
  const r = decode(codec, u ?? {});
  if (!r.ok) raise(errors.badRequest('api', `Invalid request body: ${r.failure.path === '' ? '' : `${r.failure.path}: `}${r.failure.message}`, { path: r.failure.path, value: r.failure.value }));
  return r.value;
}

function filters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (raw === null || raw === '') return {};
  let u: unknown;
  try {
    u = JSON.parse(raw);
  } catch {
    raise(errors.badRequest('api', `filters is not valid JSON: ${JSON.stringify(raw.slice(0, 60))}`));
  }
  const out: Record<string, string[]> = {};
  if (typeof u !== 'object' || u === null) return out;
  for (const [k, v] of Object.entries(u as Record<string, unknown>)) {
    // Docker accepts {"k":["v"]} and the older {"k":{"v":true}}.
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === 'object' && v !== null) out[k] = Object.keys(v);
  }
  return out;
}

export function serviceRoutes(api: () => ServicesApi): ServiceRoute[] {
  return [
    { method: 'POST', pattern: '/services/create', fn: async (_p, _q, b) => api().create(body(ServiceSpec, b)) },
    { method: 'GET', pattern: '/services', fn: async () => api().list() },
    { method: 'GET', pattern: '/services/{id}', fn: async (p) => api().get(p.id!) },
    {
      method: 'POST',
      pattern: '/services/{id}/update',
      fn: async (p, q, b) => {
        const v = q.get('version');
        return api().update(p.id!, v === null ? undefined : Number(v), body(ServiceSpec, b));
      },
    },
    { method: 'DELETE', pattern: '/services/{id}', fn: async (p) => (await api().remove(p.id!), {}) },
    { method: 'GET', pattern: '/tasks', fn: async (_p, q) => api().tasks(filters(q)) },
    { method: 'GET', pattern: '/stacks', fn: async () => listStacks(api()) },
    {
      method: 'POST',
      pattern: '/stacks/deploy',
      fn: async (_p, _q, b) => {
        const r = body(StackDeployRequest, b);
        return deployStack(api(), r.Name, r.ComposeFiles, r.Env ?? {});
      },
    },
    { method: 'DELETE', pattern: '/stacks/{name}', fn: async (p) => (await removeStack(api(), p.name!), {}) },
  ];
}
