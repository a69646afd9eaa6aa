/**
 * Public types of the plugin toolchains: diagnostics, artifact reports and limits. Which capability
 * each host import requires is core's `HOST_FUNCTION_CAPABILITY` (docs/plugin-abi.md).
 */
import type { Capability } from '../core/capabilities.js';

/** A problem found in the sources or the module, positioned when possible (1-based line and column). */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** Source file name as given in `files`, or `<module>` for binary checks. */
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
  /** A tool-specific code, e.g. `TS2322` for a TypeScript type error. */
  readonly code?: string;
  /** What to change, phrased for an agent. */
  readonly hint?: string;
  /** The offending source line, when known. */
  readonly lineText?: string;
}

/** Plugin capability names (the manifest's `capabilities`); core's table is the only one. */
export type { Capability };

/** Which toolchain produced a module. */
export type SourceLanguage = 'js' | 'assemblyscript' | 'rust' | 'c' | 'wat' | 'wasm';

/** What every compile (and `inspectWasm`) reports about the module. */
export interface ArtifactReport {
  readonly language: SourceLanguage;
  /** Module size in bytes. */
  readonly size: number;
  /** Hex sha256 of the module bytes. */
  readonly sha256: string;
  /** Exported functions (`handle`, `infer`, …) and other exports, by name and kind. */
  readonly exports: readonly { name: string; kind: string }[];
  /** Imports as `module/name`. */
  readonly imports: readonly { module: string; name: string; kind: string }[];
  /** Host functions of `extism:host/user` the module imports. */
  readonly hostFunctions: readonly string[];
  /** Capabilities those host functions require (sorted, deduplicated). */
  readonly capabilities: readonly Capability[];
  /** Memory limits in 64 KiB pages. */
  readonly memory?: { readonly min: number; readonly max?: number };
  readonly diagnostics: readonly Diagnostic[];
  /** Wall time of the compile phases, in ms. */
  readonly timings: Readonly<Record<string, number>>;
  /** npm packages bundled into the module (JS plugins that declared dependencies), exact versions. */
  readonly dependencies?: readonly BundledPackage[];
}

/** An npm package bundled into a JS plugin. */
export interface BundledPackage {
  readonly name: string;
  readonly version: string;
  /** SPDX licence expression from its package.json, or "UNKNOWN". */
  readonly license: string;
  /** Integrity of the tarball it came from (`sha512-…`). */
  readonly integrity: string;
}

/** A finished module with its report. */
export interface CompileResult {
  readonly wasm: Uint8Array;
  readonly report: ArtifactReport;
}

/** Limits common to every compile. */
export interface CompileLimits {
  /** Total bytes of all source files. @default 1_048_576 */
  maxSourceBytes?: number;
  /** Wall-clock limit of the whole compile. @default 60_000 */
  timeoutMs?: number;
  /** Memory maximum written into the module, in 64 KiB pages. @default 1024 (64 MiB) */
  memoryMaxPages?: number;
}

/** Defaults of {@link CompileLimits}. */
export const DEFAULT_LIMITS: Required<CompileLimits> = {
  maxSourceBytes: 1_048_576,
  timeoutMs: 60_000,
  memoryMaxPages: 1024,
};
