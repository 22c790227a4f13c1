/** `--help` text and usage lines, rendered from the command table (also used by `docs.ts`). */
import type { CommandSpec, FlagSpec, GroupSpec } from './spec.ts';
import type { Table } from './parse.ts';
import { GLOBAL_FLAGS } from './parse.ts';

const PLACEHOLDER: Readonly<Record<string, string>> = {
  string: 'string', int: 'int', duration: 'duration', kv: 'KEY=VALUE', ip: 'IP', cidr: 'CIDR', mac: 'MAC', hostport: 'IP:PORT', publish: 'SPEC', portmap: 'PORT',
};

export function usageLine(c: CommandSpec): string {
  const args = c.args.map((a) => (a.arity === 'many' ? `${a.name}...` : a.arity === 'optional' ? `[${a.name}]` : a.name));
  const required = c.flags.filter((f) => f.required === true).map((f) => `--${f.name} ${f.value ?? PLACEHOLDER[f.type] ?? ''}`);
  const hasOptional = c.flags.some((f) => f.required !== true);
  const rest = c.rest === undefined ? [] : c.rest.required === true ? ['--', c.rest.name, '[ARG...]'] : ['[--', c.rest.name, '[ARG...]]'];
  return ['weft', ...c.path, ...(hasOptional ? ['[OPTIONS]'] : []), ...required, ...args, ...rest].join(' ');
}

export function flagLeft(f: FlagSpec): string {
  const names = f.short === undefined ? `    --${f.name}` : `-${f.short}, --${f.name}`;
  return f.type === 'bool' ? names : `${names} ${f.value ?? PLACEHOLDER[f.type] ?? ''}`;
}

export function flagRight(f: FlagSpec): string {
  const notes: string[] = [];
  if (f.choices !== undefined) notes.push(`one of: ${f.choices.join(', ')}`);
  if (f.repeat === true) notes.push('repeatable');
  if (f.required === true) notes.push('required');
  if (f.defaultText !== undefined) notes.push(`default: ${f.defaultText}`);
  return notes.length === 0 ? f.desc : `${f.desc} (${notes.join('; ')})`;
}

function flagList(flags: readonly FlagSpec[]): string[] {
  const left = flags.map(flagLeft);
  const w = Math.max(0, ...left.map((s) => s.length)) + 3;
  return flags.map((f, i) => `  ${(left[i] ?? '').padEnd(w)}${flagRight(f)}`);
}

export function subcommands(table: Table, path: readonly string[]): { name: string; summary: string }[] {
  const under = (p: readonly string[]) => p.length === path.length + 1 && path.every((w, i) => p[i] === w);
  const out = [
    ...table.groups.filter((g) => under(g.path)).map((g) => ({ name: g.path.at(-1) ?? '', summary: g.summary })),
    ...table.commands.filter((c) => under(c.path)).map((c) => ({ name: c.path.at(-1) ?? '', summary: c.summary })),
  ];
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function commandHelp(c: CommandSpec): string {
  const lines = [`Usage:  ${usageLine(c)}`, '', c.summary];
  if (c.details !== undefined) lines.push('', c.details);
  if (c.aliases !== undefined && c.aliases.length > 0) lines.push('', 'Aliases:', `  ${[c.path.at(-1), ...c.aliases].join(', ')}`);
  if (c.flags.length > 0) lines.push('', 'Options:', ...flagList(c.flags));
  lines.push('', 'Global options:', ...flagList(GLOBAL_FLAGS));
  if (c.examples !== undefined && c.examples.length > 0) lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

export function groupHelp(table: Table, path: readonly string[]): string {
  const g: GroupSpec | undefined = table.groups.find((x) => x.path.join(' ') === path.join(' '));
  const subs = subcommands(table, path);
  const w = Math.max(0, ...subs.map((s) => s.name.length)) + 3;
  const title = path.length === 0 ? 'weft: the command-line client of the Weft agent (an overlay network for sandboxes and containers)' : (g?.summary ?? '');
  const lines = [`Usage:  weft ${path.length === 0 ? '[OPTIONS] ' : ''}${[...path, 'COMMAND'].join(' ')}`, '', title, '', 'Commands:', ...subs.map((s) => `  ${s.name.padEnd(w)}${s.summary}`)];
  lines.push('', 'Global options:', ...flagList(GLOBAL_FLAGS));
  lines.push('', `Run 'weft ${[...path, 'COMMAND'].join(' ')} --help' for more information on a command.`);
  return `${lines.join('\n')}\n`;
}

export function helpFor(table: Table, path: readonly string[]): string {
  const c = table.commands.find((x) => x.path.join(' ') === path.join(' '));
  return c === undefined ? groupHelp(table, path) : commandHelp(c);
}

/** The short usage printed with a usage error. */
export function usageHint(table: Table, path: readonly string[]): string {
  const c = table.commands.find((x) => x.path.join(' ') === path.join(' '));
  const usage = c === undefined ? `weft ${[...path, 'COMMAND'].join(' ')}` : usageLine(c);
  return `Usage:  ${usage}\nRun '${['weft', ...path].join(' ')} --help' for more information.\n`;
}
