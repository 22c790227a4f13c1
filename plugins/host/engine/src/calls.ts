/** Kernel calls as the engine makes them: a Left becomes a thrown WeftException; cleanup only logs. */
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { WeftJoinOptions, formatError, raise, WeftException, type Context, type TaskOptions, type WeftError } from '@weft/kernel';

export async function call<T>(ctx: Context<unknown>, plugin: string, method: string, input: unknown): Promise<T> {
  const r: Either<WeftError, unknown> = await ctx.invoke(plugin, method, input);
  if (isLeft(r)) raise(r.left);
  return r.right as T;
}

export async function attempt<T>(ctx: Context<unknown>, plugin: string, method: string, input: unknown): Promise<T | undefined> {
  try {
    return await call<T>(ctx, plugin, method, input);
  } catch (e) {
    ctx.log.warn(`${method} failed during cleanup`, { error: e instanceof WeftException ? formatError(e.error) : String(e) });
    return undefined;
  }
}

/** Join options that publish a task's service fields in its endpoint record (plugins/drivers/overlay). */
export function taskJoinOptions(task: TaskOptions | undefined, netId: string): Record<string, unknown> {
  if (task === undefined || task.service === '') return {};
  const vip = task.vips?.[netId];
  const vip6 = task.vips6?.[netId];
  return {
    [WeftJoinOptions.service]: task.service,
    [WeftJoinOptions.endpointMode]: task.endpointMode,
    [WeftJoinOptions.taskSlot]: task.slot,
    ...(vip !== undefined ? { [WeftJoinOptions.serviceVip]: vip } : {}),
    ...(vip6 !== undefined ? { [WeftJoinOptions.serviceVip6]: vip6 } : {}),
  };
}
