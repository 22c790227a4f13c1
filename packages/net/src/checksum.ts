/**
 * RFC 1071 internet checksum.
 *
 * Sums are carried unfolded in a JS number (exact up to 2^53, i.e. far more
 * than any packet) and folded once at the end, so a checksum over several
 * ranges (pseudo-header + header + payload) is just repeated `checksumAdd`.
 *
 *   let s = checksumAdd(0, buf, a, b);   // every range but the last must have even length
 *   s = checksumAdd(s, buf, c, d);
 *   const csum = checksumFinish(s);      // value to store in the header
 */

/** Adds the 16-bit big-endian words of buf[start, end) to `sum`. An odd final byte is padded with zero (RFC 1071 §4.1). */
export const checksumAdd = (sum: number, buf: Uint8Array, start: number, end: number): number => {
  let s = sum;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  return s;
};

/** Adds one 16-bit word. */
export const checksumAdd16 = (sum: number, word: number): number => sum + (word & 0xffff);

/** Adds a 32-bit value as two 16-bit words (e.g. an IPv4 address in a pseudo-header). */
export const checksumAdd32 = (sum: number, word: number): number => sum + (word >>> 16) + (word & 0xffff);

/** Folds carries into 16 bits (one's complement sum), without complementing. */
export const checksumFold = (sum: number): number => {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
};

/** Folds and complements: the value to store in a checksum field. */
export const checksumFinish = (sum: number): number => ~checksumFold(sum) & 0xffff;

/** Checksum of one range. Over data that includes a correct checksum field this is 0. */
export const internetChecksum = (buf: Uint8Array, start = 0, end = buf.length): number =>
  checksumFinish(checksumAdd(0, buf, start, end));

/**
 * RFC 1624 eqn. 3 incremental update: the new checksum after a 16-bit field
 * changes from `oldWord` to `newWord` (e.g. TTL decrement, NAT rewrite),
 * without re-summing the packet: HC' = ~(~HC + ~m + m').
 */
export const checksumUpdate16 = (checksum: number, oldWord: number, newWord: number): number =>
  ~checksumFold((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;

/** As `checksumUpdate16` for a 32-bit field such as an IPv4 address. */
export const checksumUpdate32 = (checksum: number, oldValue: number, newValue: number): number =>
  checksumUpdate16(checksumUpdate16(checksum, oldValue >>> 16, newValue >>> 16), oldValue & 0xffff, newValue & 0xffff);
