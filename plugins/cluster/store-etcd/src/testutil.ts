/** Shared by this package's tests. */
import * as assert from 'uvu/assert';
import { isWeftError, type WeftError } from '@weft/kernel';

/** Awaits `p`, which must reject with a WeftError; returns it. */
export async function failure(p: Promise<unknown>, what = 'the call'): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isWeftError(e), `a WeftError, not ${String(e)}`);
    return e as WeftError;
  }
  assert.unreachable(`expected ${what} to fail`);
  throw new Error('unreachable');
}
