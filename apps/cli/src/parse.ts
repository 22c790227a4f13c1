/**
 * argv → `Parsed`, driven only by the command table. Docker's conventions: `--flag value`,
 * `--flag=value`, `-x value`, `-xVALUE`, bundled bools (`-qf`), `--` ends the flags; global flags
 * (`-H`, `--help`) anywhere before `--`. For commands that take a command line (`run`, `exec`),
 * flag parsing stops at the first word past the positional arguments, like `docker run IMAGE CMD`.
 * Every mistake is a `UsageError` (exit 2).
 */
import type { CommandSpec, FlagSpec, FlagValue, GroupSpec, Parsed, PortMapSpec } from './spec.ts';
import { UsageError } from './spec.ts';
import { parseDuration, readInt, readKeyValue, readPortMap, readPublish, splitHostPort } from './values.ts';

export const DEFAULT_HOST = 'unix:///run/weft/weft.sock';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'host', short: 'H', type: 'string', value: 'unix:///PATH', defaultText: `$WEFT_HOST, else ${DEFAULT_HOST}`, desc: "Agent socket to talk to" },
  { name: 'help', short: 'h', type: 'bool', desc: 'Print usage and exit' },
];

export interface Table {
  readonly commands: readonly CommandSpec[];
  readonly groups: readonly GroupSpec[];
}

export type ParseResult = { readonly kind: 'run'; readonly parsed: Parsed } | { readonly kind: 'help'; readonly path: readonly string[] };

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);
const label = (path: readonly string[]) => ['weft', ...path].join(' ');

/** The command or group named `path + [word]`, matching aliases of the last word too. */
function child(table: Table, path: readonly string[], word: string): { path: readonly string[]; leaf?: CommandSpec } | undefined {
  for (const c of table.commands) {
    if (c.path.length !== path.length + 1 || !same(c.path.slice(0, -1), path)) continue;
    if (c.path[path.length] === word || (c.aliases ?? []).includes(word)) return { path: c.path, leaf: c };
  }
  for (const g of table.groups) {
    if (g.path.length === path.length + 1 && same(g.path.slice(0, -1), path) && g.path[path.length] === word) return { path: g.path };
  }
  return undefined;
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** ` (did you mean "x"?)` when one candidate is close to `word`. */
export function suggest(word: string, candidates: readonly string[]): string {
  const best = candidates
    .map((c) => ({ c, d: c.startsWith(word) && word.length >= 2 ? 0 : distance(word, c) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(word.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  return best === undefined ? '' : ` (did you mean "${best.c}"?)`;
}

function childNames(table: Table, path: readonly string[]): string[] {
  const under = (p: readonly string[]) => p.length === path.length + 1 && same(p.slice(0, -1), path);
  return [...table.commands.filter((c) => under(c.path)).map((c) => c.path.at(-1) ?? ''), ...table.groups.filter((g) => under(g.path)).map((g) => g.path.at(-1) ?? '')];
}

function convert(f: FlagSpec, raw: string, path: readonly string[]): FlagValue {
  const fail = (why: string): never => {
    throw new UsageError(`invalid argument ${JSON.stringify(raw)} for --${f.name}: ${why}`, path, true);
  };
  if (f.choices !== undefined && !f.choices.includes(raw)) fail(`use one of ${f.choices.join(', ')}`);
  switch (f.type) {
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return fail('use true or false');
    case 'int': {
      const r = readInt(raw, f.min, f.max);
      return r.ok ? r.value : fail(r.error);
    }
    case 'duration': {
      const r = parseDuration(raw);
      return r.ok ? raw : fail(r.error);
    }
    case 'kv': {
      const r = readKeyValue(raw, f.kvValueRequired === true, f.value ?? 'KEY=VALUE');
      return r.ok ? r.value : fail(r.error);
    }
    case 'publish': {
      const r = readPublish(raw);
      return r.ok ? r.value : fail(r.error);
    }
    case 'portmap': {
      const r = readPortMap(raw);
      return r.ok ? r.value : fail(r.error);
    }
    case 'hostport': {
      const r = splitHostPort(raw);
      return r.ok ? raw : fail(r.error);
    }
    default:
      return raw;
  }
}

/** Finishes a leaf: positional arity, choices, required flags and command line, address checks. */
async function finish(cmd: CommandSpec, host: string, flags: Map<string, FlagValue[]>, positionals: string[], rest: string[]): Promise<Parsed> {
  const path = cmd.path;
  const min = cmd.args.filter((a) => a.arity !== 'optional').length;
  const many = cmd.args.some((a) => a.arity === 'many');
  const max = many ? Infinity : cmd.args.length;
  const names = cmd.args.map((a) => (a.arity === 'many' ? `${a.name}...` : a.arity === 'optional' ? `[${a.name}]` : a.name)).join(' ');
  if (positionals.length < min || positionals.length > max) {
    const want =
      max === 0 ? 'accepts no arguments' : min === max ? `requires exactly ${min} argument${min === 1 ? '' : 's'}` : positionals.length < min ? `requires at least ${min} argument${min === 1 ? '' : 's'}` : `accepts at most ${max} argument${max === 1 ? '' : 's'}`;
    const got = positionals.length > max ? ` (unexpected ${JSON.stringify(positionals[max])})` : '';
    throw new UsageError(`"${label(path)}" ${want}${names === '' ? '' : `: ${names}`}${got}`, path);
  }
  const args: Record<string, string[]> = {};
  let i = 0;
  let optionalLeft = positionals.length - min;
  for (const a of cmd.args) {
    if (a.arity === 'many') {
      const take = positionals.length - i - cmd.args.slice(cmd.args.indexOf(a) + 1).filter((x) => x.arity === 'one').length;
      args[a.name] = positionals.slice(i, i + take);
      i += take;
    } else if (a.arity === 'optional') {
      if (optionalLeft > 0) {
        args[a.name] = [positionals[i] ?? ''];
        i++;
        optionalLeft--;
      } else args[a.name] = [];
    } else {
      args[a.name] = [positionals[i] ?? ''];
      i++;
    }
    if (a.choices !== undefined) {
      for (const v of args[a.name] ?? []) {
        if (!a.choices.includes(v)) throw new UsageError(`invalid ${a.name} ${JSON.stringify(v)}: use ${a.choices.join(' or ')}`, path);
      }
    }
  }
  for (const f of cmd.flags) {
    if (f.required === true && !flags.has(f.name)) throw new UsageError(`"${label(path)}" requires --${f.name} ${f.value ?? f.type.toUpperCase()}`, path, true);
  }
  if (cmd.rest !== undefined && rest.length === 0) {
    const req = cmd.rest.required;
    const unless = typeof req === 'string' ? req.slice('unless-flag:'.length) : undefined;
    const needed = req === true || (unless !== undefined && flags.get(unless)?.at(-1) !== true);
    if (needed) throw new UsageError(`"${label(path)}" needs a command to run: ${label(path)} [OPTIONS] -- ${cmd.rest.name} [ARG...]${unless === undefined ? '' : ` (or -${cmd.flags.find((f) => f.name === unless)?.short ?? `-${unless}`} without a command)`}`, path);
  }
  // Address-shaped values are checked with @weft/net, loaded only when such a flag was given.
  const toCheck = cmd.flags.filter((f) => (f.type === 'ip' || f.type === 'cidr' || f.type === 'mac' || f.type === 'hostport' || f.type === 'portmap') && flags.has(f.name));
  if (toCheck.length > 0) {
    const { checkAddress } = await import('./addr.ts');
    for (const f of toCheck) {
      for (const v of flags.get(f.name) ?? []) {
        if (f.type === 'portmap') {
          // `-p HOST_IP:…`: the host address must be an IPv4 or IPv6 address.
          const m = v as PortMapSpec;
          const why = m.hostIp === undefined ? undefined : checkAddress('ip', m.hostIp);
          const text = `${m.hostIp?.includes(':') === true ? `[${m.hostIp}]` : m.hostIp}:${m.hostPort}:${m.port}/${m.protocol}`;
          if (why !== undefined) throw new UsageError(`invalid argument ${JSON.stringify(text)} for --${f.name}: invalid host address ${JSON.stringify(m.hostIp)}: ${why}; give an IPv4 or IPv6 address (IPv6 in brackets: [::]:8080:80)`, path, true);
          continue;
        }
        const s = String(v);
        const hp = splitHostPort(s);
        const why = f.type === 'hostport' ? checkAddress('ip', hp.ok ? hp.value.host : s) : checkAddress(f.type as 'ip' | 'cidr' | 'mac', s);
        if (why !== undefined) throw new UsageError(`invalid argument ${JSON.stringify(s)} for --${f.name}: ${why}`, path, true);
      }
    }
  }
  return { cmd, host, flags, args, rest };
}

export async function parse(argv: readonly string[], table: Table, env: Readonly<Record<string, string | undefined>>): Promise<ParseResult> {
  let host: string | undefined;
  let help = false;
  let path: readonly string[] = [];
  let leaf: CommandSpec | undefined;
  let i = 0;
  const flags = new Map<string, FlagValue[]>();
  const positionals: string[] = [];
  let rest: string[] = [];

  const lookup = (name: string, short: boolean): FlagSpec | undefined => {
    const all = [...(leaf?.flags ?? []), ...GLOBAL_FLAGS];
    return all.find((f) => (short ? f.short === name : f.name === name));
  };
  const set = (f: FlagSpec, v: FlagValue) => {
    if (f.name === 'host') host = String(v);
    else if (f.name === 'help') help = v === true;
    else {
      const list = flags.get(f.name) ?? [];
      if (f.repeat === true) list.push(v);
      else list.splice(0, list.length, v);
      flags.set(f.name, list);
    }
  };
  /** Reads the flag token at argv[i]; returns how many tokens it used. */
  const flag = (tok: string): number => {
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = tok.slice(2, eq < 0 ? undefined : eq);
      const f = lookup(name, false);
      if (f === undefined) throw new UsageError(`unknown flag: --${name}${suggest(name, [...(leaf?.flags ?? []), ...GLOBAL_FLAGS].map((x) => x.name)).replace('"', '"--')}`, path, true);
      if (f.type === 'bool') {
        set(f, eq < 0 ? true : convert(f, tok.slice(eq + 1), path));
        return 1;
      }
      if (eq >= 0) {
        set(f, convert(f, tok.slice(eq + 1), path));
        return 1;
      }
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`flag needs an argument: --${name} ${f.value ?? ''}`.trimEnd(), path, true);
      set(f, convert(f, v, path));
      return 2;
    }
    for (let k = 1; k < tok.length; k++) {
      const c = tok[k] ?? '';
      const f = lookup(c, true);
      if (f === undefined) throw new UsageError(`unknown shorthand flag: '${c}' in ${tok}`, path, true);
      if (f.type === 'bool') {
        set(f, true);
        continue;
      }
      const attached = tok.slice(k + 1).replace(/^=/, '');
      if (attached !== '') {
        set(f, convert(f, attached, path));
        return 1;
      }
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`flag needs an argument: -${c} ${f.value ?? ''}`.trimEnd(), path, true);
      set(f, convert(f, v, path));
      return 2;
    }
    return 1;
  };
  const isFlag = (tok: string) => tok.startsWith('-') && tok !== '-' && tok !== '--';

  // Command words (global flags may come before or between them).
  let helpWord = false;
  while (i < argv.length && leaf === undefined) {
    const tok = argv[i] ?? '';
    if (tok === '--') break;
    if (isFlag(tok)) {
      i += flag(tok);
      continue;
    }
    if (path.length === 0 && tok === 'help' && !helpWord) {
      helpWord = true;
      i++;
      continue;
    }
    const next = child(table, path, tok);
    if (next === undefined) {
      if (helpWord) throw new UsageError(`unknown help topic "${[...path, tok].join(' ')}"`, path);
      throw new UsageError(`unknown command "${tok}" for "${label(path)}"${suggest(tok, childNames(table, path))}`, path);
    }
    path = next.path;
    leaf = next.leaf;
    i++;
  }
  if (helpWord) return { kind: 'help', path };
  if (leaf === undefined) {
    if (i < argv.length) throw new UsageError(`unexpected "--" after "${label(path)}"`, path);
    return { kind: 'help', path };
  }

  // The command's own flags and arguments.
  const takesRestAt = leaf.rest === undefined ? Infinity : leaf.args.length;
  while (i < argv.length) {
    const tok = argv[i] ?? '';
    if (tok === '--') {
      const after = argv.slice(i + 1);
      if (leaf.rest !== undefined) rest = [...after];
      else positionals.push(...after);
      break;
    }
    if (isFlag(tok)) {
      i += flag(tok);
      continue;
    }
    if (positionals.length >= takesRestAt) {
      rest = argv.slice(i);
      break;
    }
    positionals.push(tok);
    i++;
    // `run IMAGE CMD -x`: past the last positional of a command that takes a command line, every word is that command's
    // (a `--` right there only separates).
    if (positionals.length >= takesRestAt) {
      rest = argv.slice(argv[i] === '--' ? i + 1 : i);
      break;
    }
  }
  if (help) return { kind: 'help', path };
  const resolvedHost = host ?? (env['WEFT_HOST'] !== undefined && env['WEFT_HOST'] !== '' ? env['WEFT_HOST'] : DEFAULT_HOST);
  return { kind: 'run', parsed: await finish(leaf, resolvedHost, flags, positionals, rest) };
}
