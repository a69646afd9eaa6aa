/**
 * The few `WebAssembly` globals the runtime uses, typed here because the project's `lib` setting
 * (ES2023, no DOM) declares no WebAssembly values.
 */
export interface WasmApi {
  compile(bytes: Uint8Array): Promise<WebAssembly.Module>;
  Instance: new (module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

/** The global `WebAssembly` object. */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
