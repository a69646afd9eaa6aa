import { z } from 'zod';
import { sourceCapabilities } from './source-capabilities.js';
import { UeeError, isUeeError, type TenantContext } from '../../core/index.js';
import type { UeeApp } from '../../app/index.js';
import { compileAssemblyScript, compileC, compileJs, compileRust, compileWat, inspectWasm, type ArtifactReport, type CompileResult, type Diagnostic } from '../../compiler/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { CapabilityArg, SourcesArg, cancellable, type Sources } from './shared.js';
import { compileGate } from './sandbox-gate.js';
import { TenantArg } from '../schemas.js';
import { resolveScope } from '../scope.js';

/** What plugin_compile remembers about an artifact it produced, so deploy can record the source. */
export interface ArtifactInfo {
  sha256: string;
  report: ArtifactReport;
  source?: { language: string; files: Record<string, string> };
}

/**
 * Read-model view (per tenant; the global scope for admins) recording which artifacts a scope
 * uploaded or compiled: id = sha256. Module bytes are stored once by content, but an artifact
 * belongs to whoever uploaded it; others get the same NOT_FOUND as for a missing one.
 */
export const ARTIFACTS_VIEW = 'uee.artifacts';

const MAX_REMEMBERED = 128;
const remembered = new WeakMap<UeeApp, Map<string, ArtifactInfo>>();

/**
 * The scope that owns the artifacts a principal uploads: its tenant; for admins the tenant their
 * `tenantId` names (so that tenant's tokens can test and deploy it), else the global scope.
 */
function ownerScope(ctx: ToolContext, tenantId?: string | null): TenantContext {
  const p = ctx.principal;
  return { tenantId: p.kind === 'tenant' ? p.tenantId : (tenantId ?? null), actor: p.id };
}

function rememberKey(ctx: ToolContext, sha256: string, tenantId?: string | null): string {
  return `${ownerScope(ctx, tenantId).tenantId ?? ''}\u0000${sha256}`;
}

/**
 * Stores module bytes and records them as the principal's artifact (with its report and source for
 * later tools of the same process, kept per owner so one tenant never gets another's source).
 */
export async function storeArtifact(ctx: ToolContext, wasm: Uint8Array, info: ArtifactInfo, tenantId?: string | null): Promise<void> {
  await ctx.app.store.blobs.put(wasm);
  await ctx.app.store.readModels.upsert(ownerScope(ctx, tenantId), ARTIFACTS_VIEW, info.sha256, {
    size: info.report.size,
    language: info.report.language,
    uploadedBy: ctx.principal.id,
  });
  let map = remembered.get(ctx.app);
  if (!map) remembered.set(ctx.app, (map = new Map<string, ArtifactInfo>()));
  const key = rememberKey(ctx, info.sha256, tenantId);
  map.delete(key);
  map.set(key, info);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
}

/** What this process knows about an artifact the principal's scope compiled (its report and source). */
export function artifactInfo(ctx: ToolContext, sha256: string): ArtifactInfo | undefined {
  const map = remembered.get(ctx.app);
  const own = map?.get(rememberKey(ctx, sha256));
  if (own !== undefined || ctx.principal.kind !== 'admin' || map === undefined) return own;
  // Admins reach every artifact, whichever scope they compiled it for.
  for (const [key, info] of map) if (key.endsWith(`\u0000${sha256}`)) return info;
  return undefined;
}

/**
 * Loads an artifact's bytes for the principal: admins reach every stored module; a tenant only the
 * ones its tenant uploaded or compiled. Missing and foreign answer the same NOT_FOUND.
 */
export async function loadArtifact(ctx: ToolContext, sha256: string): Promise<Uint8Array> {
  const missing = new UeeError('NOT_FOUND', `artifact ${sha256} not found`, {
    details: { artifact: sha256 },
    hint: 'compile the sources (or upload wasmBase64) with plugin_compile and pass the artifact it returns',
  });
  if (ctx.principal.kind !== 'admin') {
    try {
      await ctx.app.store.readModels.get(ownerScope(ctx), ARTIFACTS_VIEW, sha256);
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) throw missing;
      throw err;
    }
  }
  if (!(await ctx.app.store.blobs.has(sha256))) throw missing;
  return ctx.app.store.blobs.get(sha256);
}

/** The entry file of a source set: explicit, else main.*, else the only file. */
export function entryOf(sources: Sources): string {
  if (sources.entry !== undefined) return sources.entry;
  const names = Object.keys(sources.files);
  const preferred =
    sources.language === 'wat' ? ['main.wat', 'plugin.wat']
    : sources.language === 'rust' ? ['lib.rs', 'main.rs']
    : sources.language === 'c' ? ['main.c', 'plugin.c']
    : ['main.ts', 'index.ts', 'main.js', 'index.js', 'plugin.ts'];
  const found = preferred.find((n) => n in sources.files) ?? (names.length === 1 ? names[0] : undefined);
  if (found === undefined) {
    throw new UeeError('VALIDATION_FAILED', 'cannot tell the entry file', {
      details: { issues: [{ path: 'source.entry', message: `pass entry: one of ${names.join(', ')}` }] },
      hint: 'pass source.entry (e.g. "main.ts")',
    });
  }
  return found;
}

/** Options of {@link compileSources}. */
export interface CompileOptions {
  /**
   * Wall-clock limit of this compile, capped at the operator ceiling (`UEE_MAX_COMPILE_MS`).
   * @default the ceiling
   */
  timeoutMs?: number;
}

/**
 * A progress reporter whose `progress` only goes up: phases and ticks share one counter, and the
 * final call lands one above the last tick with `total` equal to it, so a client never sees progress
 * go backwards (MCP: "the progress value MUST increase with each notification").
 */
export class MonotonicProgress {
  #value = 0;
  constructor(private readonly ctx: Pick<ToolContext, 'progress'>) {}

  /** Reports the next step (no total: the length of the work is unknown). */
  step(message: string): void {
    this.#value++;
    this.ctx.progress(this.#value, undefined, message).catch(() => undefined);
  }

  /** Reports the start (0) of the work. */
  start(message: string): Promise<void> {
    return this.ctx.progress(this.#value, undefined, message);
  }

  /** Reports completion: one above the last step, with total equal to it. */
  done(message: string): Promise<void> {
    this.#value++;
    return this.ctx.progress(this.#value, this.#value, message);
  }
}

/**
 * Compiles sources with the toolchain of their language, reporting progress every second. A cancelled
 * call stops the compile itself (its compiler thread and child processes), not only its result.
 * COMPILE_FAILED carries `details.diagnostics` and a message and hint naming `file:line:col`; TIMEOUT
 * names the `timeoutMs` argument and the ceiling. Progress (when `progress` is given) only increases.
 */
export async function compileSources(ctx: ToolContext, sources: Sources, options: CompileOptions = {}, progress = new MonotonicProgress(ctx)): Promise<CompileResult> {
  const entry = entryOf(sources);
  if (!(entry in sources.files)) {
    throw new UeeError('VALIDATION_FAILED', `entry file ${entry} is not among the files`, {
      details: { issues: [{ path: 'source.entry', message: 'not in files' }] },
      hint: `add ${entry} to files or set entry to one of: ${Object.keys(sources.files).join(', ')}`,
    });
  }
  const dependencies = sources.dependencies ?? {};
  if (Object.keys(dependencies).length > 0 && sources.language !== 'ts' && sources.language !== 'js') {
    throw new UeeError('VALIDATION_FAILED', `dependencies are for ts/js plugins, not ${sources.language}`, {
      details: { issues: [{ path: 'source.dependencies', message: 'only for language ts or js' }] },
      hint: 'remove source.dependencies, or vendor the code into the sources',
    });
  }
  const ceiling = ctx.app.config.limits.maxCompileMs;
  const timeoutMs = Math.min(options.timeoutMs ?? ceiling, ceiling);
  // WAT is assembled in a few ms on this thread; every other language runs a compiler thread or process.
  const hold = sources.language === 'wat' ? undefined : compileGate(ctx.app).acquire(ctx.principal);
  const started = Date.now();
  let phase = 'compiling';
  await progress.start(`compiling ${entry} (${sources.language})`);
  const onPhase = (message: string): void => {
    if (message === phase) return;
    phase = message;
    progress.step(message);
  };
  const timer = setInterval(() => progress.step(`${phase}… ${Math.round((Date.now() - started) / 1000)}s`), 1000);
  try {
    const work =
      sources.language === 'wat'
        ? compileWat({ source: sources.files[entry] ?? '' })
        : sources.language === 'assemblyscript'
          ? compileAssemblyScript({ files: sources.files, entry, signal: ctx.signal, timeoutMs })
          : sources.language === 'rust'
            ? compileRust({ files: sources.files, entry, signal: ctx.signal, timeoutMs })
            : sources.language === 'c'
              ? compileC({ files: sources.files, entry, signal: ctx.signal, timeoutMs })
              : compileJs({ files: sources.files, entry, dependencies, npm: ctx.app.config.npm, logger: ctx.logger, onPhase, signal: ctx.signal, timeoutMs });
    return await cancellable(ctx.signal, work);
  } catch (err) {
    throw sharpen(err, timeoutMs, ceiling);
  } finally {
    clearInterval(timer);
    hold?.release();
  }
}

/**
 * Rewrites COMPILE_FAILED so message and hint lead with the first error's position, and TIMEOUT so its
 * hint names what can be changed: the `timeoutMs` argument (up to the operator ceiling) and the sources.
 */
function sharpen(err: unknown, timeoutMs: number, ceiling: number): unknown {
  if (isUeeError(err, 'TIMEOUT')) {
    return new UeeError('TIMEOUT', err.message, {
      details: { ...err.details, timeoutMs, ceilingMs: ceiling },
      retryable: true,
      hint:
        (timeoutMs < ceiling ? `raise plugin_compile's timeoutMs (now ${timeoutMs}; at most ${ceiling}, UEE_MAX_COMPILE_MS) or ` : `the ceiling is ${ceiling} ms (UEE_MAX_COMPILE_MS, set by the operator); `) +
        'move module-level (top-level) work into a handler and split large sources; a busy server can also be the cause',
      cause: err,
    });
  }
  if (!isUeeError(err, 'COMPILE_FAILED')) return err;
  const diagnostics = (err.details.diagnostics ?? []) as Diagnostic[];
  const first = diagnostics.find((d) => d.severity === 'error');
  if (!first) return err;
  const at = `${first.file ?? '?'}:${first.line ?? 0}:${first.col ?? 0}`;
  return new UeeError('COMPILE_FAILED', `${at}: ${first.message}`, {
    details: { ...err.details, position: { file: first.file ?? null, line: first.line ?? null, col: first.col ?? null } },
    hint: `fix ${at}${first.lineText ? ` (\`${first.lineText.trim().slice(0, 120)}\`)` : ''}${first.hint ? `: ${first.hint}` : ''}, then compile again`,
    cause: err,
  });
}

export const DiagnosticOut = z.object({
  severity: z.enum(['error', 'warning']),
  file: z.string().optional(),
  line: z.number().int().optional(),
  col: z.number().int().optional(),
  message: z.string(),
  hint: z.string().optional(),
  lineText: z.string().optional(),
}).meta({ id: 'Diagnostic' });

/**
 * The artifact report as plugin_compile returns it: what an agent acts on (the artifact id, the
 * capabilities to declare, the diagnostics to fix) and, with `detail: "full"`, the module's exports,
 * imports (about 2 KB of kernel host functions for a JS plugin), memory and timings.
 */
export const ReportOut = z.object({
  artifact: z.string().describe('sha256 of the stored module: pass it to plugin_test and plugin_deploy'),
  language: z.string(),
  size: z.number().int(),
  requiredCapabilities: z.array(z.string()).describe('Capabilities the manifest must grant: to load (imports) and to see input.entity (readEntities)'),
  missingCapabilities: z.array(z.string()).describe('Required capabilities not in the `capabilities` you passed'),
  diagnostics: z.array(DiagnosticOut),
  hostFunctions: z.array(z.string()).optional().describe('detail "full": the host functions the module imports'),
  exports: z.array(z.object({ name: z.string(), kind: z.string() })).optional().describe('detail "full"'),
  imports: z.array(z.object({ module: z.string(), name: z.string(), kind: z.string() })).optional().describe('detail "full"'),
  memory: z.object({ min: z.number().int(), max: z.number().int().optional() }).optional().describe('detail "full"'),
  timings: z.record(z.string(), z.number()).optional().describe('detail "full"'),
  dependencies: z
    .array(z.object({ name: z.string(), version: z.string(), license: z.string(), integrity: z.string() }))
    .optional()
    .describe('npm packages bundled into the module: exact versions and licences'),
});

/** How much of the report plugin_compile returns. */
export type ReportDetail = 'summary' | 'full';

/** A report plus artifact id in the {@link ReportOut} shape. */
export function reportOut(report: ArtifactReport, declared: readonly string[] | undefined, files?: Record<string, string>, detail: ReportDetail = 'full'): z.infer<typeof ReportOut> {
  const extra = sourceCapabilities(files).filter((c) => !report.capabilities.includes(c.capability));
  const required = [...report.capabilities, ...extra.map((c) => c.capability)].sort();
  return {
    artifact: report.sha256,
    language: report.language,
    size: report.size,
    requiredCapabilities: required,
    missingCapabilities: declared === undefined ? [] : required.filter((c) => !declared.includes(c)),
    diagnostics: [
      ...report.diagnostics.map((d) => ({ ...d })),
      ...extra.map((c) => ({ severity: 'warning' as const, file: c.file, message: c.reason, hint: `declare "${c.capability}" in the manifest's capabilities, or input.entity is undefined` })),
    ],
    ...(report.dependencies ? { dependencies: report.dependencies.map((d) => ({ ...d })) } : {}),
    ...(detail === 'full'
      ? {
          hostFunctions: [...report.hostFunctions],
          exports: report.exports.map((e) => ({ ...e })),
          imports: report.imports.map((i) => ({ ...i })),
          ...(report.memory ? { memory: { ...report.memory } } : {}),
          timings: { ...report.timings },
        }
      : {}),
  };
}

/** `plugin_compile`: sources (or an uploaded module) → stored artifact + report. */
export const pluginCompile = defineTool({
  name: 'plugin_compile',
  taskSupport: 'optional',
  title: 'Compile plugin',
  description: 'Compiles sources (SDK: uee://docs/sdk) or checks a module (wasmBase64) into a stored `artifact`. detail full adds exports, imports.',
  input: z
    .strictObject({
      tenantId: TenantArg,
      source: SourcesArg.optional(),
      wasmBase64: z.string().max(22_400_000).optional(),
      capabilities: z.array(CapabilityArg).max(16).optional(),
      detail: z.enum(['summary', 'full']).default('summary'),
      timeoutMs: z.number().int().min(1000).max(600_000).optional().describe('Default and cap: UEE_MAX_COMPILE_MS'),
    })
    .refine((a) => (a.source === undefined) !== (a.wasmBase64 === undefined), { message: 'pass exactly one of source or wasmBase64' }),
  output: ReportOut,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    let result: CompileResult;
    const progress = new MonotonicProgress(ctx);
    // The scope that owns the artifact; admins may compile for a tenant (null or omitted: global).
    const owner = args.tenantId === undefined && ctx.principal.kind === 'admin' ? null : (await resolveScope(ctx, args.tenantId)).tenantId;
    if (args.wasmBase64 !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(args.wasmBase64)) {
        throw new UeeError('VALIDATION_FAILED', 'wasmBase64 is not base64', { hint: 'encode the .wasm bytes with standard base64' });
      }
      const wasm = new Uint8Array(Buffer.from(args.wasmBase64, 'base64'));
      result = { wasm, report: inspectWasm(wasm) };
    } else {
      result = await compileSources(ctx, args.source!, args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }, progress);
    }
    await storeArtifact(ctx, result.wasm, {
      sha256: result.report.sha256,
      report: result.report,
      ...(args.source ? { source: { language: args.source.language, files: args.source.files } } : {}),
    }, owner);
    await progress.done('compiled');
    return reportOut(result.report, args.capabilities, args.source?.files, args.detail);
  },
  summarize: (o) =>
    `artifact ${o.artifact.slice(0, 12)}… ${o.size} bytes, needs [${o.requiredCapabilities.join(', ')}]` +
    (o.missingCapabilities.length > 0 ? `; MISSING capabilities: ${o.missingCapabilities.join(', ')}` : ''),
});
