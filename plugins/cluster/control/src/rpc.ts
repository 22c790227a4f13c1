/** Request/response and push over a `Conn`, and WeftError ⇄ wire conversion. */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { ErrorCategories, errors, fromUnknown, weftError, type ErrorCategory, type WeftError } from '@weft/kernel';
import type { Conn } from './channel.ts';
import { RpcMessage, type ErrorWire, type RpcRole, type Snapshot } from './codecs.ts';

export const RPC_TIMEOUT_MS = 10_000;

export function toWire(e: WeftError): ErrorWire {
  return { category: e.category, code: e.code, message: e.message, plugin: e.plugin, ...(e.hint !== undefined ? { hint: e.hint } : {}) };
}

export function fromWire(w: ErrorWire): WeftError {
  const category: ErrorCategory = (ErrorCategories as readonly string[]).includes(w.category) ? (w.category as ErrorCategory) : 'Internal';
  return weftError(category, w.plugin ?? 'control', w.message, { code: w.code, ...(w.hint !== undefined ? { hint: w.hint } : {}) });
}

export function decodeOr<A>(codec: t.Type<A, unknown, unknown>, u: unknown, what: string): A {
  const r = codec.decode(u);
  if (isLeft(r)) {
    const first = r.left[0];
    const path = first?.context.map((c) => c.key).filter((k) => k !== '').join('.') ?? '';
    throw errors.badRequest('control', `Invalid ${what}${path !== '' ? ` at ${path}` : ''}`, { value: first?.value });
  }
  return r.right;
}

/** The calling side of a session (nodes → manager). */
export class RpcClient {
  readonly conn: Conn;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: WeftError) => void; timer: ReturnType<typeof setTimeout> }>();
  readonly done: Promise<string>;

  constructor(conn: Conn, onPush: (s: Snapshot) => void, onRole: (r: RpcRole) => void = () => {}) {
    this.conn = conn;
    this.done = conn.loop((raw) => {
      const r = RpcMessage.decode(raw);
      if (isLeft(r)) throw new Error('the manager sent a message this node does not understand');
      const m = r.right;
      if (m.t === 'push') onPush(m.p);
      else if (m.t === 'role') onRole(m);
      else if (m.t === 'res') {
        const p = this.pending.get(m.id);
        if (p === undefined) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.err !== undefined) p.reject(fromWire(m.err));
        else p.resolve(m.ok);
      }
    });
    void this.done.then((why) => {
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(errors.unavailable('control', `The connection to the manager closed during the call (${why})`, { code: 'WEFT_CONTROL_NO_MANAGER' }));
        this.pending.delete(id);
      }
    });
  }

  call(m: string, p: unknown, timeoutMs = RPC_TIMEOUT_MS): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(errors.unavailable('control', `The manager did not answer ${m} within ${timeoutMs} ms`, { code: 'WEFT_CONTROL_NO_MANAGER' }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.conn.send({ t: 'req', id, m, p });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(fromUnknown('control', e, m));
      }
    });
  }

  close(): void {
    this.conn.close();
  }
}
