/**
 * Linux interface names for endpoints: at most 15 bytes (IFNAMSIZ - 1), stable for an endpoint ID
 * (an agent that restarts finds its devices again) and unique in practice: `prefix` + the first
 * 12 hex digits of two 32-bit FNV-1a/Murmur-style hashes of the whole ID (48 bits).
 */
export function interfaceName(prefix: string, id: string): string {
  if (prefix.length > 3 || !/^[a-z]*$/.test(prefix)) throw new RangeError(`interface name prefix must be up to 3 lower-case letters, not "${prefix}"`);
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `${prefix}${(a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')).slice(0, 12)}`;
}
