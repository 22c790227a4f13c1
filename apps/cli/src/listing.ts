/**
 * Docker's output conventions for every listing and inspect:
 * - `--format table` (default), `--format 'table {{.A}}\t{{.B}}'` (a header row from the fields,
 *   columns laid out like Go's tabwriter), `--format '{{.A}}'` (one line per object, no header),
 *   `--format json` (one JSON object per line, as `{{json .}}`, Docker ≥ 23);
 * - `--filter KEY=VALUE`, repeatable: values of one key OR, different keys AND; an unknown key is
 *   Docker's `invalid filter 'KEY'`;
 * - `--no-trunc` (full IDs and commands), `-q` (IDs only);
 * - `inspect -f/--format TEMPLATE` over the API objects (a bad template exits 64, as Docker).
 *
 * A listing is a `ListSpec`: the columns (field name in templates, header, value), the default
 * table, the quiet column and the filters. Rows are rendered as Docker's formatter contexts:
 * plain objects of the column fields, so `{{json .}}` and `--format json` show the same keys.
 */
import type { FlagSpec, Io, Parsed } from './spec.ts';
import { UserError } from './spec.ts';
import { bool, kvs, str } from './flags.ts';
import { inspectJson, table } from './format.ts';
import { compile, TemplateError, type Template } from './template.ts';

export interface Column<T> {
  /** Field name in templates (`{{.Name}}`). */
  readonly field: string;
  /** Header in `table` output. */
  readonly header: string;
  /** `trunc` is false with --no-trunc. A function value becomes a template method (`{{.Label "k"}}`). */
  readonly get: (row: T, trunc: boolean) => unknown;
  /** The value is a function of arguments (`{{.Label "k"}}`). */
  readonly method?: boolean;
}

export interface ListSpec<T> {
  readonly columns: readonly Column<T>[];
  /** The default `table ...` template. */
  readonly table: string;
  /** What `-q` prints for a row. */
  readonly quiet: (row: T, trunc: boolean) => string;
  /** Docker's filter keys for this object: key → does the row match this value. */
  readonly filters: Readonly<Record<string, (row: T, value: string) => boolean>>;
  /** Row order of the output. */
  readonly order?: (a: T, b: T) => number;
}

/** A status for Docker's `cli.StatusError`: the message is printed and the code returned. */
export class StatusError extends UserError {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

export const FILTER: FlagSpec = { name: 'filter', short: 'f', type: 'kv', kvValueRequired: true, value: 'KEY=VALUE', repeat: true, desc: 'Filter output based on conditions provided (repeatable)' };
export const NO_TRUNC: FlagSpec = { name: 'no-trunc', type: 'bool', desc: "Don't truncate output" };
export const LIST_FORMAT: FlagSpec = {
  name: 'format',
  type: 'string',
  value: 'FORMAT',
  defaultText: 'table',
  desc: 'Format output: "table", "table TEMPLATE" (with headers), "json" (one object per line) or a Go TEMPLATE',
};
export const INSPECT_FORMAT: FlagSpec = { name: 'format', short: 'f', type: 'string', value: 'TEMPLATE', desc: 'Format output using a Go template ("json" for JSON on one line)' };

/** Docker's label filter: `label=KEY` (present) or `label=KEY=VALUE`. */
export function labelMatch(labels: Readonly<Record<string, string>> | undefined, value: string): boolean {
  const i = value.indexOf('=');
  const l = labels ?? {};
  if (i < 0) return Object.prototype.hasOwnProperty.call(l, value);
  return l[value.slice(0, i)] === value.slice(i + 1);
}

/** Parses a template; a malformed one is Docker's "template parsing error" (exit `status`). */
export function template(src: string, status: number, missing: 'error' | 'novalue' = 'error'): Template {
  try {
    return compile(src, { missing });
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(`template parsing error: ${e.message}`, status);
    throw e;
  }
}

function execute(t: Template, data: unknown): string {
  try {
    return t.execute(data);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(e.message);
    throw e;
  }
}

/** Rows that pass every `--filter` (Docker: the values of one key OR, different keys AND). */
export function applyFilters<T>(p: Parsed, spec: ListSpec<T>, rows: readonly T[]): T[] {
  const byKey = new Map<string, string[]>();
  for (const { key, value } of kvs(p, 'filter')) byKey.set(key, [...(byKey.get(key) ?? []), value]);
  for (const key of byKey.keys()) {
    if (spec.filters[key] === undefined) {
      const known = Object.keys(spec.filters).sort();
      throw new UserError(`invalid filter '${key}'${known.length === 0 ? ': this listing takes no filters' : ` (filters here: ${known.join(', ')})`}`);
    }
  }
  return rows.filter((r) => [...byKey].every(([key, values]) => values.some((v) => spec.filters[key]!(r, v))));
}

/** A row as Docker's formatter context: the column fields. */
export function context<T>(spec: ListSpec<T>, row: T, trunc: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of spec.columns) o[c.field] = c.get(row, trunc);
  return o;
}

/** Renders `rows` as `--format`, `-q`, `--no-trunc` and `--filter` ask. */
export function renderList<T>(p: Parsed, io: Io, spec: ListSpec<T>, all: readonly T[]): string {
  const rows = applyFilters(p, spec, all);
  if (spec.order !== undefined) rows.sort(spec.order);
  const trunc = !bool(p, 'no-trunc');
  const fmt = str(p, 'format');
  if (bool(p, 'quiet')) {
    if (fmt !== undefined && fmt !== '' && fmt !== 'table') io.err('Warning: ignoring custom format, because both --format and --quiet are set.\n');
    return rows.map((r) => `${spec.quiet(r, trunc)}\n`).join('');
  }
  if (fmt === 'json') return rows.map((r) => `${JSON.stringify(context(spec, r, trunc))}\n`).join('');
  const src = fmt === undefined || fmt === '' || fmt === 'table' ? spec.table : fmt;
  if (src.startsWith('table')) {
    const body = src.slice('table'.length).replace(/^\s/, '');
    return renderTable(spec, rows, body.trim() === '' ? spec.table.slice('table'.length).replace(/^\s/, '') : body, trunc);
  }
  const t = template(unescapeTabs(src), 1);
  return rows.map((r) => `${execute(t, context(spec, r, trunc))}\n`).join('');
}

/** Docker accepts a literal `\t` typed in the shell as a tab. */
const unescapeTabs = (s: string) => s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

function renderTable<T>(spec: ListSpec<T>, rows: readonly T[], body: string, trunc: boolean): string {
  const t = template(unescapeTabs(body), 1);
  const header: Record<string, unknown> = {};
  for (const c of spec.columns) {
    const h = c.header;
    header[c.field] = c.method === true ? () => h : h;
  }
  // The header: the same template over the column names (Docker's header context).
  let head: string;
  try {
    head = t.execute(new Proxy(header, { get: (o, k) => (typeof k === 'string' && !(k in o) ? k.toUpperCase() : o[k as string]), has: () => true }));
  } catch {
    head = '';
  }
  const lines = rows.map((r) => execute(t, context(spec, r, trunc)));
  const cells = (s: string) => s.split('\t');
  const headCells = cells(head);
  return table(headCells, lines.map(cells));
}

/** Prints a listing (see renderList). */
export function printList<T>(p: Parsed, io: Io, spec: ListSpec<T>, rows: readonly T[]): number {
  io.out(renderList(p, io, spec, rows));
  return 0;
}

/**
 * `inspect`: the objects as an indented JSON array, or each through `-f TEMPLATE` (one line each;
 * `-f json` is one compact JSON line). Missing names are reported and the rest printed (exit 1).
 */
export function printInspect(p: Parsed, io: Io, found: readonly unknown[], rc: number): number {
  const fmt = str(p, 'format');
  if (fmt === undefined || fmt === '') {
    if (found.length > 0 || rc === 0) io.out(inspectJson(found));
    return rc;
  }
  if (fmt === 'json') {
    io.out(found.map((o) => `${JSON.stringify(o)}\n`).join(''));
    return rc;
  }
  const t = template(unescapeTabs(fmt), 64, 'novalue');
  for (const o of found) io.out(`${execute(t, o)}\n`);
  return rc;
}
