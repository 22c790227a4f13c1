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
  const req: StackDeployRequest = { Name: name, ComposeFiles: files };
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
