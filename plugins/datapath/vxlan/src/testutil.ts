/** Helpers shared by the root integration tests. */
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { rootSkipReason, type Lab } from '@weft/sys';
import type { AgentConfig } from './agent.ts';
import { tsFileCommand } from '@weft/testing';

const skip = rootSkipReason();

/** A uvu test that is skipped, saying why, when not root. */
export const rootTest = (name: string, fn: () => Promise<void>): void => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const agentPath = fileURLToPath(new URL('./agent.ts', import.meta.url));

/** Starts `agent.ts` inside host namespace `ns` and waits for its "ready" line. */
export async function startAgent(lab: Lab, ns: string, cfg: AgentConfig): Promise<ChildProcess> {
  const [cmd, ...args] = tsFileCommand(agentPath, [JSON.stringify(cfg)]);
  const p = lab.spawn(ns, cmd as string, args, { cwd: pkgDir });
  let out = '';
  let err = '';
  p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((res, rej) => {
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) res();
    });
    p.once('exit', (c) => rej(new Error(`agent in ${ns} exited (${c}) before ready: ${err}`)));
  });
  const timeout = setTimeout(() => p.emit('exit', 'timeout'), 20_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return p;
}

export async function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await once(p, 'exit');
}

/** Ping succeeded: "N received" with N ≥ 1; returns the output for the log. */
export function pingOk(lab: Lab, ns: string, dst: string, count = 3): string {
  return lab.exec(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', dst]);
}

/** Sends UDP datagrams, in order, from one socket bound to `src` (in `ns`) to `dst`:4789. */
export function sendRaw(lab: Lab, ns: string, src: string, dst: string, ...payloads: Buffer[]): void {
  const py = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],0))\nfor h in sys.argv[3:]: s.sendto(bytes.fromhex(h),(sys.argv[2],4789))\n`;
  lab.exec(ns, '/usr/bin/python3', ['-c', py, src, dst, ...payloads.map((p) => p.toString('hex'))]);
}
