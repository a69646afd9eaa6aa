/**
 * Public types of the plugin toolchains: diagnostics, artifact reports, limits, and the map from
 * host imports to the capabilities they require (docs/plugin-abi.md).
 */

/** A problem found in the sources or the module, positioned when possible (1-based line and column). */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** Source file name as given in `files`, or `<module>` for binary checks. */
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
  /** What to change, phrased for an agent. */
  readonly hint?: string;
  /** The offending source line, when known. */
  readonly lineText?: string;
}

/** Plugin capability names (the manifest's `capabilities`). */
export type Capability =
  | 'readEntities'
  | 'writeEntities'
  | 'emitEvents'
  | 'updateReadModels'
  | 'accessTenantConfig'
  | 'invokeModels'
  | 'executeTimers'
  | 'spawnWorkflows';

/** Host function name → the capability it needs (`null`: always granted). */
export const HOST_FUNCTION_CAPABILITIES: Readonly<Record<string, Capability | null>> = {
  read_entity: 'readEntities',
  query_read_model: 'readEntities',
  write_entity: 'writeEntities',
  emit_event: 'emitEvents',
  update_read_model: 'updateReadModels',
  get_tenant_config: 'accessTenantConfig',
  call_model: 'invokeModels',
  schedule_timer: 'executeTimers',
  cancel_timer: 'executeTimers',
  spawn_workflow: 'spawnWorkflows',
  log: null,
};

/** The host functions of `extism:host/user`, in ABI order. */
export const HOST_FUNCTIONS = Object.keys(HOST_FUNCTION_CAPABILITIES);

/** Which toolchain produced a module. */
export type SourceLanguage = 'js' | 'assemblyscript' | 'wat' | 'wasm';

/** What every compile (and {@link inspectWasm}) reports about the module. */
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
