/**
 * Plugin toolchains: JS/TS (QuickJS engine snapshotted with Wizer), AssemblyScript, Rust, C, WAT, and
 * validation of uploaded Extism modules. Every compile returns the module and an artifact report;
 * failures are `UeeError`s (`COMPILE_FAILED`, `VALIDATION_FAILED`, `PAYLOAD_TOO_LARGE`, `TIMEOUT`).
 */
export { compileJs } from './compile-js.js';
export type { CompileJsOptions } from './compile-js.js';
export { compileAssemblyScript } from './compile-as.js';
export type { CompileAsOptions } from './compile-as.js';
export { compileRust, DEFAULT_RUSTC } from './compile-rust.js';
export type { CompileRustOptions } from './compile-rust.js';
export { compileC } from './compile-c.js';
export type { CompileCOptions } from './compile-c.js';
export { compileWat } from './compile-wat.js';
export type { CompileWatOptions } from './compile-wat.js';
export { inspectWasm, checkContract } from './inspect.js';
export type { InspectOptions } from './inspect.js';
export { buildEngine, ensureEngine, engineHash, sharedEngine } from './engine-build.js';
export { warmCompiler } from './warm.js';
export type { CompilerWarmUp, WarmState } from './warm.js';
export type { EngineArtifact, EngineBuildOptions } from './engine-build.js';
export { DEFAULT_LIMITS } from './types.js';
export { DEFAULT_NPM_SETTINGS, resolveDependencies } from './npm-deps.js';
export type { DependencyTree, NpmSettings, ResolvedPackage } from './npm-deps.js';
export { HOST_FUNCTIONS, HOST_FUNCTION_CAPABILITY as HOST_FUNCTION_CAPABILITIES } from '../core/capabilities.js';
export type { ArtifactReport, BundledPackage, Capability, CompileLimits, CompileResult, Diagnostic, SourceLanguage } from './types.js';
