/**
 * A Compose file as Docker reads it, before Weft plans a stack from it:
 * - YAML with merge keys (`<<: *anchor`, YAML 1.1's, which Compose files use with `x-` anchors);
 * - `x-*` extension fields dropped silently (top level, and in services and networks);
 * - interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
 *   `${VAR?error}`, `$VAR` and `$$` in every string value (keys are not interpolated), from the
 *   variables the client sent (its environment over its `.env`), as the Compose specification says;
 * - the result decoded by an io-ts codec: a malformed file is refused with the path of the bad
 *   field (`services.web.ports[0]`), before anything is deployed.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { parse } from 'yaml';
import { decode, errors, raise } from '@weft/kernel';

const PLUGIN = 'services';

type Obj = Record<string, unknown>;
const isObj = (u: unknown): u is Obj => typeof u === 'object' && u !== null && !Array.isArray(u);

/** A codec whose failure is one error, `expected WHAT, got VALUE`, at its own path (unions of scalars read better so). */
function described<C extends t.Mixed>(c: C, what: string): t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  return new t.Type(what, c.is, (u, ctx) => {
    const r = c.validate(u, ctx);
    return isLeft(r) ? t.failure(u, ctx, `expected ${what}, got ${JSON.stringify(u) ?? String(u)}`) : r;
  }, c.encode);
}

/** `KEY=VALUE` list or a map of scalars (labels, driver_opts). */
const KvList = described(t.union([t.array(t.string), t.record(t.string, t.union([t.string, t.number, t.boolean, t.null]))]), 'a map or a list of KEY=VALUE');
const Port = described(t.union(
  [
    t.number,
    t.string,
    t.intersection([
      t.type({ target: t.union([t.number, t.string]) }),
      t.partial({ published: t.union([t.number, t.string]), protocol: t.keyof({ tcp: null, udp: null }), mode: t.keyof({ ingress: null, host: null }), host_ip: t.string }),
    ]),
  ]),
  'a port: TARGET, "[HOST_IP:]PUBLISHED:TARGET[/udp]" or {target, published, protocol, mode}',
);
const ServiceNetworks = described(t.union([t.array(t.string), t.record(t.string, t.union([t.null, t.partial({ aliases: t.array(t.string), ipv4_address: t.string })]))]), 'a list of network names or a map of them');
const Count = described(t.union([t.number, t.string]), 'a number');

export const ComposeService = t.partial({
  image: t.string,
  command: described(t.union([t.string, t.array(t.union([t.string, t.number]))]), 'a command: a string or a list of strings'),
  networks: ServiceNetworks,
  ports: t.array(Port),
  labels: KvList,
  deploy: t.partial({ replicas: Count, mode: t.string, endpoint_mode: t.string, labels: KvList }),
});

/** A map decoded by `c` (its fields' errors keep their paths), or empty (null); anything else: `expected WHAT`. */
function mapOrEmpty<C extends t.Mixed>(c: C, what: string): t.Type<t.TypeOf<C> | null, unknown, unknown> {
  return new t.Type<t.TypeOf<C> | null, unknown, unknown>(
    what,
    (u): u is t.TypeOf<C> | null => u === null || c.is(u),
    (u, ctx) => (u === null ? t.success(null) : isObj(u) ? c.validate(u, ctx) : t.failure(u, ctx, `expected ${what}, got ${JSON.stringify(u) ?? String(u)}`)),
    (a) => a,
  );
}

export const ComposeNetwork = mapOrEmpty(
  t.partial({
    driver: t.string,
    driver_opts: KvList,
    attachable: t.boolean,
    internal: t.boolean,
    enable_ipv6: t.boolean,
    labels: KvList,
    name: t.string,
    external: t.union([t.boolean, t.partial({ name: t.string })]),
    ipam: t.partial({
      driver: t.string,
      config: t.array(t.partial({ subnet: t.string, gateway: t.string, ip_range: t.string, aux_addresses: t.record(t.string, t.string) })),
    }),
  }),
  'a network definition (a map, or empty)',
);

export const ComposeFile = t.intersection([
  t.type({ services: t.record(t.string, mapOrEmpty(ComposeService, 'a service definition (a map)')) }),
  t.partial({ version: t.union([t.string, t.number]), name: t.string, networks: t.record(t.string, ComposeNetwork) }),
]);
export type ComposeFile = t.TypeOf<typeof ComposeFile>;

/** Later files override earlier ones, key by key (maps merge, everything else replaces). */
export function mergeCompose(a: unknown, b: unknown): unknown {
  if (isObj(a) && isObj(b)) {
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeCompose(out[k], v) : v;
    return out;
  }
  return b;
}

/** Drops `x-*` keys at the top level and inside each service and network (Compose's extension fields). */
export function dropExtensions(doc: Obj): Obj {
  const strip = (o: unknown): unknown => (isObj(o) ? Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('x-'))) : o);
  const out = strip(doc) as Obj;
  for (const section of ['services', 'networks']) {
    const s = out[section];
    if (isObj(s)) out[section] = Object.fromEntries(Object.entries(strip(s) as Obj).map(([k, v]) => [k, strip(v)]));
  }
  return out;
}

/** The variable names a Compose text refers to (`$VAR`, `${VAR...}`), for a client to send their values. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    // `$$VAR` is a literal `$VAR`: skip when the `$` is escaped.
    const at = m.index ?? 0;
    let dollars = 0;
    for (let i = at - 1; i >= 0 && text[i] === '$'; i--) dollars++;
    if (dollars % 2 === 1) continue;
    names.add(m[1] ?? m[2]!);
  }
  return [...names].sort();
}

/**
 * Interpolates one string as Compose does. `where` names the field for errors; unset variables
 * without a default become '' and are reported through `unset`.
 */
export function interpolate(s: string, env: Readonly<Record<string, string>>, where: string, unset: Set<string>): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) raise(errors.badRequest(PLUGIN, `${where}: invalid interpolation format in ${JSON.stringify(s)}: "\${" without its "}"`, { path: where, value: s }));
      const body = s.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([\s\S]*))?$/.exec(body);
      if (m === null) raise(errors.badRequest(PLUGIN, `${where}: invalid interpolation format for ${JSON.stringify(`\${${body}}`)}: use \${VAR}, \${VAR:-default} or \${VAR:?error}`, { path: where, value: s }));
      const [, name, op, arg] = m as unknown as [string, string, string | undefined, string | undefined];
      const v = env[name];
      const empty = v === undefined || (op?.startsWith(':') === true && v === '');
      if (op === ':-' || op === '-') out += empty ? interpolate(arg ?? '', env, where, unset) : v!;
      else if (op === ':?' || op === '?') {
        if (empty) raise(errors.badRequest(PLUGIN, `${where}: required variable ${name} is missing a value${arg !== undefined && arg !== '' ? `: ${arg}` : ''}`, { path: where, value: name }));
        out += v!;
      } else {
        if (v === undefined) unset.add(name);
        out += v ?? '';
      }
      i = end + 1;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (m === null) {
      out += '$';
      i++;
      continue;
    }
    const v = env[m[0]];
    if (v === undefined) unset.add(m[0]);
    out += v ?? '';
    i += 1 + m[0].length;
  }
  return out;
}

function interpolateTree(u: unknown, env: Readonly<Record<string, string>>, path: string, unset: Set<string>): unknown {
  if (typeof u === 'string') return interpolate(u, env, path, unset);
  if (Array.isArray(u)) return u.map((x, i) => interpolateTree(x, env, `${path}[${i}]`, unset));
  if (isObj(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, interpolateTree(v, env, path === '' ? k : `${path}.${k}`, unset)]));
  return u;
}

/**
 * Reads the Compose files of a stack: YAML with merge keys, merged in order, extension fields
 * dropped, interpolated from `env`, then decoded. Returns the file and warnings (unset variables).
 */
export function readCompose(files: readonly string[], env: Readonly<Record<string, string>> = {}): { file: ComposeFile; doc: Obj; warnings: string[] } {
  if (files.length === 0) raise(errors.badRequest(PLUGIN, 'no compose file given', { path: 'ComposeFiles' }));
  let doc: unknown = {};
  files.forEach((text, i) => {
    let d: unknown;
    try {
      d = parse(text, { merge: true });
    } catch (e) {
      raise(errors.badRequest(PLUGIN, `compose file ${i + 1} is not valid YAML: ${(e as Error).message.split('\n')[0]}`));
    }
    if (!isObj(d)) raise(errors.badRequest(PLUGIN, `compose file ${i + 1} is not a YAML map`));
    doc = mergeCompose(doc, dropExtensions(d));
  });
  const unset = new Set<string>();
  const interpolated = interpolateTree(doc, env, '', unset) as Obj;
  if (!isObj(interpolated.services) || Object.keys(interpolated.services).length === 0) raise(errors.badRequest(PLUGIN, 'the compose file defines no services', { path: 'services' }));
  const r = decode(ComposeFile, interpolated);
  if (!r.ok) raise(errors.badRequest(PLUGIN, `invalid compose file: ${r.failure.path === '' ? '' : `${r.failure.path}: `}${r.failure.message}`, { path: r.failure.path, value: r.failure.value }));
  const warnings = [...unset].sort().map((n) => `the ${n} variable is not set: defaulting to a blank string`);
  return { file: r.value, doc: interpolated, warnings };
}
