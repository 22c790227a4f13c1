/** `weft stack ...`: the compose files are read here and parsed by the agent (types in @weft/api). */
import type { Io, Parsed } from '../spec.ts';
import { UserError } from '../spec.ts';
import type { StackDeployRequest, StackDeployResponse, StackSummary } from '@weft/api';
import { call, feature } from '../agent.ts';
import { arg, args, strs } from '../flags.ts';
import { printList, type ListSpec } from '../listing.ts';
import { progress } from '../format.ts';
import { eachName } from '../util.ts';
import { printTasks } from './service.ts';

const seg = encodeURIComponent;
const stacks = <T>(p: Parsed, io: Io, work: () => Promise<T>) => feature(p, io, 'Stacks', '/stacks', work);

/** `.env` as Compose reads it: KEY=VALUE lines, `#` comments, optional `export `, quotes stripped. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (m === null) continue;
    let v = m[2] ?? '';
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]!] = q === '"' ? v.replace(/\\n/g, '\n') : v;
  }
  return out;
}

/**
 * The values of the variables the compose files refer to: this shell's environment over the
 * `.env` file beside the first compose file (Compose's project directory). Only referenced names
 * are sent to the agent.
 */
async function composeEnv(io: Io, first: string, files: readonly string[]): Promise<Record<string, string>> {
  const names = new Set<string>();
  for (const f of files) {
    for (const m of f.matchAll(/(\$*)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) if ((m[1] ?? '').length % 2 === 0) names.add(m[2] ?? m[3]!);
  }
  if (names.size === 0) return {};
  const path = await import('node:path');
  let dotenv: Record<string, string> = {};
  try {
    dotenv = parseDotEnv(await io.readFile(path.join(first === '-' ? '.' : path.dirname(first), '.env')));
  } catch {
    /* no .env */
  }
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = io.env[n] ?? dotenv[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

export async function deploy(p: Parsed, io: Io): Promise<number> {
  const name = arg(p, 'NAME');
  const files: string[] = [];
  for (const f of strs(p, 'compose-file')) {
    try {
      files.push(await io.readFile(f));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(`cannot read compose file ${JSON.stringify(f)}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  const env = await composeEnv(io, strs(p, 'compose-file')[0] ?? '-', files);
  const req: StackDeployRequest = Object.keys(env).length === 0 ? { Name: name, ComposeFiles: files } : { Name: name, ComposeFiles: files, Env: env };
  const r = await stacks(p, io, () => progress(io, `Deploying stack "${name}"`, call<StackDeployResponse>(p, io, 'POST', '/stacks/deploy', req)));
  for (const w of r.Warnings ?? []) io.err(`Warning: ${w}\n`);
  for (const n of r.Networks) io.out(`Creating network ${n}\n`);
  for (const s of r.Services) io.out(`Creating service ${s}\n`);
  return 0;
}

/** `weft stack ls`: Docker's stack context (Name, Services), plus Networks. */
export const stackSpec: ListSpec<StackSummary> = {
  columns: [
    { field: 'Name', header: 'NAME', get: (s) => s.Name },
    { field: 'Services', header: 'SERVICES', get: (s) => String(s.Services) },
    { field: 'Networks', header: 'NETWORKS', get: (s) => String(s.Networks ?? '') },
    { field: 'Orchestrator', header: 'ORCHESTRATOR', get: () => 'Swarm' },
  ],
  table: 'table {{.Name}}\t{{.Services}}',
  quiet: (s) => s.Name,
  filters: {},
  order: (a, b) => a.Name.localeCompare(b.Name),
};

export async function ls(p: Parsed, io: Io): Promise<number> {
  const list = await stacks(p, io, () => call<StackSummary[]>(p, io, 'GET', '/stacks'));
  return printList(p, io, stackSpec, list);
}

export async function ps(p: Parsed, io: Io): Promise<number> {
  return printTasks(p, io, { label: [`com.docker.stack.namespace=${arg(p, 'NAME')}`] }, stacks);
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await stacks(p, io, () => progress(io, `Removing stack "${n}"`, call(p, io, 'DELETE', `/stacks/${seg(n)}`)));
    io.out(`Removing stack ${n}\n`);
  });
}
