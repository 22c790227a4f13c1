/** Test helpers. */
import { execFileSync } from 'node:child_process';

/** Whether the dynamic linker knows a libsodium (`ldconfig -p`), i.e. libsodium-ffi must load. */
export function systemHasLibsodium(): boolean {
  try {
    return /\blibsodium\.so(\.23)?\b/.test(execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
}
