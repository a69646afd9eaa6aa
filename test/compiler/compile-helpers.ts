/** Re-exports for the compiler tests, plus a code check that does not depend on class identity. */
export { compileJs, compileAssemblyScript, compileRust, compileC, compileWat, inspectWasm } from '../../src/compiler/index.js';

/** True when `err` carries the given UeeError code. */
export function isUeeErrorLike(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
