/**
 * Parse results. Parsers in this package never throw on bad input; they return
 * a `Result` whose error is a sentence that quotes the bad value and says what
 * was expected. Hot-path frame readers do not use this type: they return
 * numbers (`-1` for "invalid") so that they allocate nothing.
 */
export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const err = <T = never>(error: string): Result<T> => ({ ok: false, error });

/** Returns the value, or throws an `Error` carrying the parse message. For tests and constants. */
export const unwrap = <T>(r: Result<T>): T => {
  if (r.ok) return r.value;
  throw new Error(r.error);
};
