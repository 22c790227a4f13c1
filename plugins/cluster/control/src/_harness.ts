/** Test harness: one kernel + control plugin per simulated agent, each with its own state dir. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, formatError, WeftException, type Kernel, type PluginDefinition, type WeftError } from '@weft/kernel';
import { fileStore } from '@weft/store';
import { ipamBlocksPlugin } from '@weft/ipam';
import { memoryClusterStorePlugin } from '@weft/testing';
import { controlPlugin } from './plugin.ts';
import type { ControlOptions, ControlService } from './service.ts';

export interface Agent {
  readonly name: string;
  readonly dir: string;
  readonly k: Kernel;
  readonly svc: ControlService;
  call<T = any>(m: string, input?: unknown): Promise<T>;
  fail(m: string, input?: unknown): Promise<WeftError>;
  stop(): Promise<void>;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'weft-control-'));
}

export async function startAgent(name: string, opts: ControlOptions & { dir?: string; extra?: PluginDefinition[]; sync?: boolean } = {}): Promise<Agent> {
  const dir = opts.dir ?? (await tempDir());
  const store = fileStore(dir, opts.sync === true ? {} : { unsafeNoSync: true });
  const k = createKernel({ store });
  const r = await k.load([{ plugin: controlPlugin({ nodeName: name, listenAddr: '127.0.0.1:0', heartbeatMs: 200, connectTimeoutMs: 1000, os: 'linux', ...opts }) }, { plugin: ipamBlocksPlugin() }, { plugin: memoryClusterStorePlugin({ dir }) }, ...(opts.extra ?? []).map((plugin) => ({ plugin }))]);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('\n'));
  const svc = k.service('control') as ControlService;
  return {
    name,
    dir,
    k,
    svc,
    async call(m, input = {}) {
      const res = await k.invoke('control', m, input);
      if (isLeft(res)) throw new WeftException(res.left);
      return res.right as never;
    },
    async fail(m, input = {}) {
      const res = await k.invoke('control', m, input);
      if (!isLeft(res)) throw new Error(`${m} should have failed but returned ${JSON.stringify(res.right)}`);
      return res.left;
    },
    // The store is closed too, so a restart on the same dir reads it back from the disk.
    stop: async () => {
      await k.stop();
      await store.close();
    },
  };
}

export async function cleanup(agents: readonly (Agent | undefined)[], dirs: readonly string[] = []): Promise<void> {
  for (const a of agents) await a?.stop().catch(() => undefined);
  for (const d of [...dirs, ...agents.map((a) => a?.dir)]) if (d !== undefined) await rm(d, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}
