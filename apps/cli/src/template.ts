/**
 * Go's text/template, the subset Docker users write in `--format` and `inspect -f`: text and
 * `{{ }}` actions (with `{{-`/`-}}` trimming and comments), pipelines (`a | b`), fields (`.A.B`,
 * `$`, `$x.A`), literals, parenthesised pipelines, variables (`$x := ...`), `if`/`else if`/`else`,
 * `range` (`$i, $e :=`, `else`), `with` (`else`), and the functions of Go and of Docker's
 * templates package: and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, print, printf,
 * println, json, join, split, lower, upper, title, truncate, pad.
 *
 * No npm library covers this: @ctrl/golang-template (the one in use) has no `json`, `printf`,
 * `eq`, variables or custom functions. Mistakes are `TemplateError`s worded as Go words them
 * (`template: :1: unclosed action`, `... can't evaluate field Nme`), never a crash.
 * No imports: this is on the start-up path of every listing.
 */

export class TemplateError extends Error {
  /** `parse` (the template is malformed) or `exec` (it failed on the data). */
  readonly phase: 'parse' | 'exec';
  constructor(phase: 'parse' | 'exec', message: string) {
    super(message);
    this.name = 'TemplateError';
    this.phase = phase;
  }
}

// ---------------------------------------------------------------------------------------------
// lexing: the template is text and actions; an action's inside is tokens

type Tok =
  | { k: 'field'; names: string[] } // .A.B  (names [] for ".")
  | { k: 'var'; name: string; names: string[] } // $x.A  ($ for the root)
  | { k: 'ident'; name: string }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'pipe' }
  | { k: 'lparen' }
  | { k: 'rparen'; names: string[] } // ")" and a field chain after it: (x).A
  | { k: 'declare' } // :=
  | { k: 'assign' } // =
  | { k: 'comma' };

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; pipe: Pipe; line: number; src: string }
  | { t: 'if' | 'with'; pipe: Pipe; body: Node[]; els: Node[]; line: number; src: string }
  | { t: 'range'; pipe: Pipe; body: Node[]; els: Node[]; line: number; src: string };

interface Pipe {
  readonly decl: string[];
  readonly cmds: Cmd[];
}
type Arg = Tok | { k: 'sub'; pipe: Pipe; names: string[] };
interface Cmd {
  readonly args: Arg[];
}

function lineOf(src: string, at: number): number {
  let n = 1;
  for (let i = 0; i < at && i < src.length; i++) if (src[i] === '\n') n++;
  return n;
}

function tokenize(inner: string, line: number): Tok[] {
  const fail = (m: string): never => {
    throw new TemplateError('parse', `template: :${line}: ${m}`);
  };
  const out: Tok[] = [];
  let i = 0;
  const chain = (): string[] => {
    const names: string[] = [];
    while (inner[i] === '.' && /[A-Za-z_]/.test(inner[i + 1] ?? '')) {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(inner.slice(i))!;
      names.push(m[0]);
      i += m[0].length;
    }
    return names;
  };
  while (i < inner.length) {
    const c = inner[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|') {
      out.push({ k: 'pipe' });
      i++;
    } else if (c === '(') {
      out.push({ k: 'lparen' });
      i++;
    } else if (c === ')') {
      i++;
      out.push({ k: 'rparen', names: chain() });
    } else if (c === ',') {
      out.push({ k: 'comma' });
      i++;
    } else if (c === ':' && inner[i + 1] === '=') {
      out.push({ k: 'declare' });
      i += 2;
    } else if (c === '=') {
      out.push({ k: 'assign' });
      i++;
    } else if (c === '.') {
      if (/[0-9]/.test(inner[i + 1] ?? '')) {
        const m = /^\.[0-9]+/.exec(inner.slice(i))!;
        out.push({ k: 'num', v: Number(m[0]) });
        i += m[0].length;
        continue;
      }
      if (!/[A-Za-z_]/.test(inner[i + 1] ?? '')) {
        i++;
        out.push({ k: 'field', names: [] });
        continue;
      }
      out.push({ k: 'field', names: chain() });
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(inner.slice(i))!;
      i += m[0].length;
      out.push({ k: 'var', name: m[0], names: chain() });
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; j < inner.length && inner[j] !== '"'; j++) {
        if (inner[j] === '\\') {
          const e = inner[++j];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '0': '\0' };
          if (e === undefined || map[e] === undefined) fail(`invalid syntax: unknown escape \\${e ?? ''} in a quoted string`);
          s += map[e!];
        } else s += inner[j];
      }
      if (j >= inner.length) fail('unterminated quoted string');
      out.push({ k: 'str', v: s });
      i = j + 1;
    } else if (c === '`') {
      const j = inner.indexOf('`', i + 1);
      if (j < 0) fail('unterminated raw quoted string');
      out.push({ k: 'str', v: inner.slice(i + 1, j) });
      i = j + 1;
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)/.exec(inner.slice(i));
      if (m === null) fail(`unexpected ${JSON.stringify(c)} in command`);
      out.push({ k: 'num', v: Number(m![0]) });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(inner.slice(i))!;
      i += m[0].length;
      if (m[0] === 'true' || m[0] === 'false') out.push({ k: 'bool', v: m[0] === 'true' });
      else if (m[0] === 'nil') out.push({ k: 'nil' });
      else out.push({ k: 'ident', name: m[0] });
    } else fail(`unexpected ${JSON.stringify(c)} in command`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// parsing

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function parsePipe(toks: Tok[], line: number, allowDecl: boolean): Pipe {
  const fail = (m: string): never => {
    throw new TemplateError('parse', `template: :${line}: ${m}`);
  };
  let pos = 0;
  const decl: string[] = [];
  // `$x :=` or `$i, $e :=` (range)
  const d = toks.findIndex((t) => t.k === 'declare' || t.k === 'assign');
  if (d >= 0) {
    const lhs = toks.slice(0, d);
    const names = lhs.filter((t) => t.k !== 'comma');
    if (!allowDecl && names.length > 1) fail('too many declarations');
    if (names.length === 0 || names.length > 2 || !names.every((t) => t.k === 'var' && t.names.length === 0)) fail('bad variable declaration');
    for (const n of names) decl.push((n as { name: string }).name);
    pos = d + 1;
  }
  const parseArgs = (stop: (t: Tok) => boolean): Cmd[] => {
    const cmds: Cmd[] = [];
    let cur: Arg[] = [];
    while (pos < toks.length && !stop(toks[pos]!)) {
      const t = toks[pos]!;
      if (t.k === 'pipe') {
        if (cur.length === 0) fail('missing command');
        cmds.push({ args: cur });
        cur = [];
        pos++;
        continue;
      }
      if (t.k === 'lparen') {
        pos++;
        const inner = parseArgs((x) => x.k === 'rparen');
        const close = toks[pos];
        if (close === undefined || close.k !== 'rparen') fail('unclosed left paren');
        pos++;
        cur.push({ k: 'sub', pipe: { decl: [], cmds: inner }, names: (close as { names: string[] }).names });
        continue;
      }
      if (t.k === 'rparen') fail('unexpected right paren');
      if (t.k === 'comma' || t.k === 'declare' || t.k === 'assign') fail(`unexpected ${t.k === 'comma' ? '","' : '":="'} in operand`);
      if (t.k === 'ident' && KEYWORDS.has(t.name)) fail(`unexpected <${t.name}> in command`);
      cur.push(t);
      pos++;
    }
    if (cur.length === 0) fail(cmds.length === 0 ? 'missing value for command' : 'missing command');
    cmds.push({ args: cur });
    return cmds;
  };
  const cmds = parseArgs(() => false);
  for (const c of cmds.slice(1)) {
    const a = c.args[0]!;
    if (a.k === 'str' || a.k === 'num' || a.k === 'bool' || a.k === 'nil') fail(`non executable command in pipeline stage ${cmds.indexOf(c) + 1}`);
  }
  return { decl, cmds };
}

interface Action {
  readonly inner: string;
  readonly line: number;
  readonly src: string;
}

/** Splits the text into text pieces and actions (trim markers applied, comments dropped). */
function split(src: string): (string | Action)[] {
  const out: (string | Action)[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push(src.slice(i));
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text !== '') out.push(text);
    const line = lineOf(src, open);
    let j = start;
    let quote: string | undefined;
    for (; j < src.length; j++) {
      const c = src[j];
      if (quote !== undefined) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = undefined;
      } else if (c === '"' || c === '`') quote = c;
      else if (src.startsWith('}}', j)) break;
      else if (src.startsWith('/*', j) && src.slice(start, j).trim() === '') {
        const end = src.indexOf('*/', j + 2);
        if (end < 0) throw new TemplateError('parse', `template: :${line}: unclosed comment`);
        j = end + 1;
      }
    }
    if (j >= src.length) throw new TemplateError('parse', `template: :${line}: unclosed action`);
    let inner = src.slice(start, j);
    let next = j + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -2);
      const m = /^\s*/.exec(src.slice(next))!;
      next += m[0].length;
    }
    i = next;
    if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(inner)) continue;
    out.push({ inner, line, src: `{{${src.slice(open + 2, j)}}}` });
  }
  return out;
}

function parse(src: string): Node[] {
  const pieces = split(src);
  let pos = 0;
  /** Parses nodes until `end`/`else` (returned as the terminator) or the end of input. */
  const list = (inside: string | undefined): { nodes: Node[]; term?: { word: 'end' | 'else'; rest: Tok[]; line: number } } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const p = pieces[pos++]!;
      if (typeof p === 'string') {
        nodes.push({ t: 'text', v: p });
        continue;
      }
      const toks = tokenize(p.inner, p.line);
      if (toks.length === 0) throw new TemplateError('parse', `template: :${p.line}: missing value for command`);
      const first = toks[0]!;
      const word = first.k === 'ident' && KEYWORDS.has(first.name) ? first.name : undefined;
      if (word === 'end' || word === 'else') {
        if (inside === undefined) throw new TemplateError('parse', `template: :${p.line}: unexpected {{${word}}}`);
        if (word === 'end' && toks.length > 1) throw new TemplateError('parse', `template: :${p.line}: unexpected ${JSON.stringify(p.inner.trim().slice(3).trim())} in end`);
        return { nodes, term: { word, rest: toks.slice(1), line: p.line } };
      }
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(block(word, toks.slice(1), p.line, p.src));
        continue;
      }
      if (word !== undefined) throw new TemplateError('parse', `template: :${p.line}: {{${word}}} is not supported here (supported: if, else, range, with, end)`);
      nodes.push({ t: 'action', pipe: parsePipe(toks, p.line, false), line: p.line, src: p.src });
    }
    if (inside !== undefined) throw new TemplateError('parse', `template: :${lineOf(src, src.length)}: unexpected EOF (missing {{end}} of {{${inside}}})`);
    return { nodes };
  };
  const block = (word: 'if' | 'with' | 'range', rest: Tok[], line: number, s: string): Node => {
    if (rest.length === 0) throw new TemplateError('parse', `template: :${line}: missing value for ${word}`);
    const pipe = parsePipe(rest, line, word === 'range');
    const body = list(word);
    let els: Node[] = [];
    if (body.term?.word === 'else') {
      if (body.term.rest.length > 0) {
        // `else if ...` / `else with ...`: a nested block that shares this one's {{end}}
        const w = body.term.rest[0]!;
        if (w.k !== 'ident' || (w.name !== 'if' && w.name !== 'with')) throw new TemplateError('parse', `template: :${body.term.line}: unexpected tokens after else`);
        els = [block(w.name, body.term.rest.slice(1), body.term.line, s)];
        return { t: word, pipe, body: body.nodes, els, line, src: s };
      }
      const e = list(word);
      if (e.term?.word !== 'end') throw new TemplateError('parse', `template: :${e.term?.line ?? line}: expected end; found else`);
      els = e.nodes;
    }
    return { t: word, pipe, body: body.nodes, els, line, src: s };
  };
  return list(undefined).nodes;
}

// ---------------------------------------------------------------------------------------------
// execution

type Fn = (...args: unknown[]) => unknown;

/** Go's truth: false, 0, nil, empty string/array/map are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** How Go's fmt prints a value with %v (`[a b]`, `map[k:v]`, `<nil>`). */
export function show(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? '<nil>' : show(x))).join(' ')}]`;
  if (typeof v === 'function') return '<function>';
  const o = v as Record<string, unknown>;
  return `map[${Object.keys(o)
    .sort()
    .map((k) => `${k}:${show(o[k])}`)
    .join(' ')}]`;
}

function cmp(a: unknown, b: unknown, op: string): boolean {
  if (typeof a !== typeof b && !(a === null || b === null)) throw new Error(`incompatible types for comparison`);
  if (op === 'eq') return a === b;
  if (op === 'ne') return a !== b;
  if (typeof a !== 'number' && typeof a !== 'string') throw new Error('invalid type for comparison');
  const x = a as number | string;
  const y = b as number | string;
  return op === 'lt' ? x < y : op === 'le' ? x <= y : op === 'gt' ? x > y : x >= y;
}

function printf(fmt: string, args: unknown[]): string {
  let n = 0;
  return fmt.replace(/%([-+ #0]*)(\d*)(?:\.(\d+))?([vsdqfxXtT%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${show(a)})`;
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${show(a)})`;
        break;
      case 'q':
        s = JSON.stringify(show(a));
        break;
      case 'x':
      case 'X':
        s = typeof a === 'number' ? a.toString(16) : [...new TextEncoder().encode(show(a))].map((b) => b.toString(16).padStart(2, '0')).join('');
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${show(a)})`;
        break;
      case 'T':
        s = a === null || a === undefined ? '<nil>' : Array.isArray(a) ? '[]interface {}' : typeof a === 'object' ? 'map[string]interface {}' : typeof a === 'number' ? 'float64' : typeof a === 'boolean' ? 'bool' : 'string';
        break;
      default:
        s = show(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    }
    const w = width === '' ? 0 : Number(width);
    return flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
  });
}

/** Go's json.Marshal: compact, with <, > and & escaped. */
const goJson = (v: unknown): string =>
  (JSON.stringify(v === undefined ? null : v) ?? 'null').replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const FUNCS: Readonly<Record<string, Fn>> = {
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (a) => !truthy(a),
  eq: (a, ...b) => b.some((x) => cmp(a, x, 'eq')),
  ne: (a, b) => cmp(a, b, 'ne'),
  lt: (a, b) => cmp(a, b, 'lt'),
  le: (a, b) => cmp(a, b, 'le'),
  gt: (a, b) => cmp(a, b, 'gt'),
  ge: (a, b) => cmp(a, b, 'ge'),
  len: (a) => {
    if (typeof a === 'string' || Array.isArray(a)) return a.length;
    if (typeof a === 'object' && a !== null) return Object.keys(a).length;
    throw new Error(`len of ${a === null || a === undefined ? 'nil pointer' : `type ${typeof a}`}`);
  },
  index: (a, ...keys) => {
    let v = a;
    for (const k of keys) {
      if (Array.isArray(v)) {
        if (typeof k !== 'number' || k < 0 || k >= v.length) throw new Error(`index out of range: ${show(k)}`);
        v = v[k];
      } else if (typeof v === 'object' && v !== null) v = (v as Record<string, unknown>)[String(k)];
      else if (v === null || v === undefined) throw new Error(`index of untyped nil`);
      else throw new Error(`can't index item of type ${typeof v}`);
    }
    return v;
  },
  slice: (a, ...ix) => {
    if (typeof a !== 'string' && !Array.isArray(a)) throw new Error(`can't slice item of type ${typeof a}`);
    const [i = 0, j = a.length] = ix as number[];
    return a.slice(i, j);
  },
  print: (...a) => a.map(show).join(''),
  println: (...a) => `${a.map(show).join(' ')}\n`,
  printf: (f, ...a) => printf(String(f), a),
  json: (a) => goJson(a),
  join: (a, sep) => {
    if (!Array.isArray(a)) throw new Error(`join: expected a list, got ${show(a)}`);
    return a.map(show).join(String(sep ?? ''));
  },
  split: (a, sep) => String(a).split(String(sep)),
  lower: (a) => show(a).toLowerCase(),
  upper: (a) => show(a).toUpperCase(),
  title: (a) => show(a).replace(/(^|[^A-Za-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase()),
  truncate: (a, n) => {
    const s = show(a);
    return typeof n === 'number' && s.length > n ? s.slice(0, n) : s;
  },
  pad: (a, l, r) => `${' '.repeat(Number(l) || 0)}${show(a)}${' '.repeat(Number(r) || 0)}`,
};

export interface ExecOptions {
  /**
   * A missing key: `error` (Go on a struct: "can't evaluate field X") or `novalue` (Go on a
   * map: `<no value>`). Docker's list contexts are structs; `inspect` reads JSON maps.
   */
  readonly missing?: 'error' | 'novalue';
}

export interface Template {
  /** Renders `data`; throws a TemplateError (phase `exec`) when the template fails on it. */
  execute(data: unknown): string;
}

/** Parses `src`; throws a TemplateError (phase `parse`) when it is malformed. */
export function compile(src: string, opts: ExecOptions = {}): Template {
  const nodes = parse(src);
  const missing = opts.missing ?? 'error';
  return {
    execute(data: unknown): string {
      let out = '';
      const vars: { name: string; v: unknown }[] = [{ name: '$', v: data }];
      const fail = (n: { line: number; src: string }, m: string): never => {
        throw new TemplateError('exec', `template: :${n.line}: executing "" at <${n.src.replace(/^\{\{-?\s*|\s*-?\}\}$/g, '')}>: ${m}`);
      };
      const field = (n: { line: number; src: string }, v: unknown, names: readonly string[], args: unknown[] | undefined): unknown => {
        let cur = v;
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!;
          if (cur === null || cur === undefined) {
            if (missing === 'novalue') return undefined;
            fail(n, `nil pointer evaluating interface {}.${name}`);
          }
          if (typeof cur !== 'object' || Array.isArray(cur)) fail(n, `can't evaluate field ${name} in type ${Array.isArray(cur) ? '[]interface {}' : typeof cur}`);
          const o = cur as Record<string, unknown>;
          if (!(name in o)) {
            if (missing === 'novalue') return undefined;
            fail(n, `can't evaluate field ${name}`);
          }
          cur = o[name];
          if (typeof cur === 'function') cur = (cur as Fn)(...(i === names.length - 1 ? (args ?? []) : []));
          else if (i === names.length - 1 && args !== undefined && args.length > 0) fail(n, `${name} has arguments but cannot be invoked as function`);
        }
        return cur;
      };
      const variable = (n: { line: number; src: string }, name: string): unknown => {
        for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.name === name) return vars[i]!.v;
        return fail(n, `undefined variable: ${name}`);
      };
      const evalArg = (n: { line: number; src: string }, a: Arg, dot: unknown): unknown => {
        switch (a.k) {
          case 'field':
            return field(n, dot, a.names, undefined);
          case 'var':
            return field(n, variable(n, a.name), a.names, undefined);
          case 'str':
          case 'num':
          case 'bool':
            return a.v;
          case 'nil':
            return null;
          case 'sub':
            return field(n, pipe(n, a.pipe, dot), a.names, undefined);
          case 'ident': {
            if (FUNCS[a.name] === undefined) fail(n, `function "${a.name}" not defined`);
            return call(n, a.name, []);
          }
          default:
            return fail(n, 'unexpected operand');
        }
      };
      const call = (n: { line: number; src: string }, name: string, args: unknown[]): unknown => {
        try {
          return FUNCS[name]!(...args);
        } catch (e) {
          return fail(n, `error calling ${name}: ${(e as Error).message}`);
        }
      };
      const command = (n: { line: number; src: string }, c: Cmd, dot: unknown, prev: unknown[]): unknown => {
        const [head, ...rest] = c.args;
        if (head!.k === 'ident') {
          if (FUNCS[head!.name] === undefined) fail(n, `function "${head!.name}" not defined`);
          return call(n, head!.name, [...rest.map((r) => evalArg(n, r, dot)), ...prev]);
        }
        if (rest.length > 0 || prev.length > 0) {
          const args = [...rest.map((r) => evalArg(n, r, dot)), ...prev];
          if (head!.k === 'field') return field(n, dot, head!.names, args);
          if (head!.k === 'var') return field(n, variable(n, head!.name), head!.names, args);
          fail(n, `can't give argument to non-function ${show(evalArg(n, head!, dot))}`);
        }
        return evalArg(n, head!, dot);
      };
      const pipe = (n: { line: number; src: string }, p: Pipe, dot: unknown): unknown => {
        let v: unknown;
        p.cmds.forEach((c, i) => {
          v = command(n, c, dot, i === 0 ? [] : [v]);
        });
        return v;
      };
      const run = (list: readonly Node[], dot: unknown): void => {
        for (const n of list) {
          if (n.t === 'text') {
            out += n.v;
            continue;
          }
          const mark = vars.length;
          if (n.t === 'action') {
            const v = pipe(n, n.pipe, dot);
            if (n.pipe.decl.length > 0) {
              vars.push({ name: n.pipe.decl[0]!, v });
              continue; // a declaration prints nothing; the variable lives to the end of the block
            }
            out += show(v);
            continue;
          }
          const v = pipe(n, n.pipe, dot);
          if (n.t === 'if' || n.t === 'with') {
            if (n.pipe.decl.length > 0) vars.push({ name: n.pipe.decl[0]!, v });
            if (truthy(v)) run(n.body, n.t === 'with' ? v : dot);
            else run(n.els, dot);
          } else {
            const items: [unknown, unknown][] =
              v === null || v === undefined
                ? []
                : Array.isArray(v)
                  ? v.map((x, i) => [i, x])
                  : typeof v === 'object'
                    ? Object.keys(v as object)
                        .sort()
                        .map((k) => [k, (v as Record<string, unknown>)[k]])
                    : typeof v === 'number' && Number.isInteger(v) && v >= 0
                      ? Array.from({ length: v }, (_x, i) => [i, i])
                      : fail(n, `range can't iterate over ${show(v)}`);
            if (items.length === 0) run(n.els, dot);
            for (const [k, x] of items) {
              const m2 = vars.length;
              if (n.pipe.decl.length === 1) vars.push({ name: n.pipe.decl[0]!, v: x });
              if (n.pipe.decl.length === 2) vars.push({ name: n.pipe.decl[0]!, v: k }, { name: n.pipe.decl[1]!, v: x });
              run(n.body, x);
              vars.length = m2;
            }
          }
          vars.length = mark;
        }
      };
      run(nodes, data);
      return out;
    },
  };
}
