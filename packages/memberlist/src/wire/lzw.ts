/**
 * LZW as implemented by Go's compress/lzw with LSB bit order and literal width 8
 * (the only variant memberlist uses): clear = 256, eof = 257, first free code 258,
 * code width 9..12 bits. The decoder caps its output to avoid decompression bombs.
 */
import { err, ok, type Result } from '@weft/net';

const CLEAR = 256;
const EOF = 257;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1; // 4095
const INVALID = 0xffff;

export const DEFAULT_LZW_MAX_OUTPUT = 20 * 1024 * 1024;

export function lzwDecode(input: Uint8Array, maxOutput = DEFAULT_LZW_MAX_OUTPUT): Result<Uint8Array> {
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const stack = new Uint8Array(1 << MAX_WIDTH);
  let out = new Uint8Array(Math.min(Math.max(input.length * 3, 64), maxOutput));
  let olen = 0;
  const push = (src: Uint8Array, from: number, to: number): boolean => {
    const n = to - from;
    if (olen + n > maxOutput) return false;
    if (olen + n > out.length) {
      let size = out.length * 2;
      while (size < olen + n) size *= 2;
      const nb = new Uint8Array(Math.min(size, maxOutput));
      nb.set(out.subarray(0, olen));
      out = nb;
    }
    out.set(src.subarray(from, to), olen);
    olen += n;
    return true;
  };

  let width = 9;
  let hi = EOF;
  let overflow = 1 << width;
  let last = INVALID;
  let bits = 0;
  let nBits = 0;
  let ip = 0;
  for (;;) {
    while (nBits < width) {
      if (ip >= input.length) return err('lzw: unexpected EOF');
      bits |= (input[ip++] as number) << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;

    if (code < CLEAR) {
      stack[0] = code;
      if (!push(stack, 0, 1)) return err('lzw: output too large');
      if (last !== INVALID) {
        suffix[hi] = code;
        prefix[hi] = last;
      }
    } else if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 1 << width;
      last = INVALID;
      continue;
    } else if (code === EOF) {
      return ok(out.slice(0, olen));
    } else if (code <= hi) {
      let c = code;
      let i = stack.length - 1;
      if (code === hi) {
        if (last === INVALID) return err('lzw: invalid code');
        c = last;
        while (c >= CLEAR) c = prefix[c] as number;
        stack[i--] = c;
        c = last;
      }
      while (c >= CLEAR) {
        if (i < 0) return err('lzw: invalid code chain');
        stack[i--] = suffix[c] as number;
        c = prefix[c] as number;
      }
      if (i < 0) return err('lzw: invalid code chain');
      stack[i] = c;
      if (!push(stack, i, stack.length)) return err('lzw: output too large');
      if (last !== INVALID) {
        suffix[hi] = c;
        prefix[hi] = last;
      }
    } else {
      return err('lzw: invalid code');
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = INVALID;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
}

/** Encoder producing a stream Go's lzw.NewReader(r, lzw.LSB, 8) accepts. */
export function lzwEncode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let hi = EOF;
  let overflow = 1 << width;
  const table = new Map<number, number>();
  const write = (code: number): void => {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nBits -= 8;
    }
  };
  // Returns true if the table was reset (out of codes).
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      write(CLEAR);
      width = 9;
      hi = EOF;
      overflow = 1 << width;
      table.clear();
      return true;
    }
    return false;
  };
  write(CLEAR);
  if (input.length > 0) {
    let code = input[0] as number;
    for (let p = 1; p < input.length; p++) {
      const lit = input[p] as number;
      const key = (code << 8) | lit;
      const hit = table.get(key);
      if (hit !== undefined) {
        code = hit;
        continue;
      }
      write(code);
      code = lit;
      if (incHi()) continue;
      table.set(key, hi);
    }
    write(code);
    incHi();
  }
  write(EOF);
  if (nBits > 0) out.push(bits & 0xff);
  return Uint8Array.from(out);
}
