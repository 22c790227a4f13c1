/** Test helpers: run `weft` in-process and a fake agent on a temporary unix socket. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Io } from './spec.ts';
import { main } from './main.ts';

export interface RunResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly spawned: readonly (readonly string[])[];
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdinIsTTY?: boolean;
  readonly isRoot?: boolean;
  readonly exitStatus?: number;
  readonly files?: Readonly<Record<string, string>>;
  readonly confirm?: boolean;
}

export async function weft(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  let out = '';
  let err = '';
  const spawned: string[][] = [];
  const io: Io = {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: opts.env ?? {},
    stdinIsTTY: opts.stdinIsTTY ?? false,
    stderrIsTTY: false,
    isRoot: opts.isRoot ?? true,
    spawn: async (file, args) => {
      spawned.push([file, ...args]);
      return opts.exitStatus ?? 0;
    },
    readFile: async (p) => {
      const f = opts.files?.[p];
      if (f === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      return f;
    },
    confirm: async () => opts.confirm ?? false,
  };
  const code = await main(argv, io);
  return { code, out, err, spawned };
}

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: unknown;
}

/** Answers: `[status, json]`, or a function of the request body. Keys are `METHOD /path?query`. */
export type Routes = Record<string, readonly [number, unknown] | ((body: unknown) => readonly [number, unknown] | Promise<readonly [number, unknown]>)>;

export interface FakeAgent {
  readonly host: string;
  readonly seen: Seen[];
  routes: Routes;
  close(): Promise<void>;
}

/** A node:http server on a temporary unix socket; unknown paths answer 404 like an agent without the route. */
export async function fakeAgent(routes: Routes): Promise<FakeAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-cli-'));
  const sock = path.join(dir, 'weft.sock');
  const seen: Seen[] = [];
  const agent: FakeAgent = {
    host: `unix://${sock}`,
    seen,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', async () => {
      const body = text === '' ? undefined : (JSON.parse(text) as unknown);
      const key = `${req.method ?? ''} ${req.url ?? ''}`;
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      const r = agent.routes[key];
      const [status, json] = r === undefined ? [404, { message: `page not found: ${key}` }] : typeof r === 'function' ? await r(body) : r;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return agent;
}
