/** What every part of the `weft` Docker plugin uses: plugin names, the host adapter, kernel calls. */
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { formatError, raise, type Context, type WeftError } from '@weft/kernel';
import { linuxDockerHost, type DockerHost } from './host.ts';
import type { DockerPluginConfig, DockerPluginOptions } from './config.ts';

export interface Deps {
  /** Kernel plugin name, also the driver name Docker users type. */
  readonly name: string;
  readonly OVERLAY: string;
  readonly IPAM: string;
  readonly CONTROL: string;
  readonly host: DockerHost;
  /** Invokes a kernel method; a Left is thrown. */
  call<T>(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<T>;
  /** Invokes a kernel method during cleanup; a Left is logged. */
  attempt(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<void>;
  hasControl(ctx: Context<DockerPluginConfig>): boolean;
}

export function createDeps(opts: DockerPluginOptions): Deps {
  const name = opts.name ?? 'weft';
  const OVERLAY = opts.overlay ?? 'overlay';
  const IPAM = opts.ipam ?? 'ipam';
  const CONTROL = opts.control ?? 'control';
  const host = opts.host ?? linuxDockerHost();

  async function call<T>(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<T> {
    const r: Either<WeftError, unknown> = await ctx.invoke(plugin, method, input);
    if (isLeft(r)) raise(r.left);
    return r.right as T;
  }

  async function attempt(ctx: Context<DockerPluginConfig>, plugin: string, method: string, input: unknown): Promise<void> {
    const r = await ctx.invoke(plugin, method, input);
    if (isLeft(r)) ctx.log.warn(`${method} failed during cleanup`, { error: formatError(r.left) });
  }

  return { name, OVERLAY, IPAM, CONTROL, host, call, attempt, hasControl: (ctx) => ctx.services.has('control') };
}
