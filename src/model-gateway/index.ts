export type {
  ModelGateway,
  GatewayCallRequest,
  GatewayCallResult,
  GatewayStream,
  CallUsage,
  ChatChunk,
  ModelInfo,
  ModelProvider,
  ProviderCall,
  ProviderResult,
  WasmModelRunner,
} from './port.js';
export {
  ModelRegistry,
  ModelDefinitionSchema,
  ModelOverrideSchema,
  ModelNameSchema,
  MODEL_KINDS,
  BUILTIN_PROVIDER,
  WASM_PROVIDER,
  HYBRID_PROVIDER,
  checkModelAllowed,
} from './registry.js';
export type { ModelDefinition, ModelDefinitionInput, ModelKind, ModelsManifestInput } from './registry.js';
export { DEFAULT_MODELS, withDefaultModels } from './defaults.js';
export { createModelGateway, DefaultModelGateway } from './gateway.js';
export type { ModelGatewayOptions, GatewayState } from './gateway.js';
export { ChatInputSchema, EmbeddingInputSchema, normalizeInput, estimateTokens } from './io.js';
export type { ChatInput, ChatOutput, EmbeddingInput, EmbeddingOutput, ScorerOutput } from './io.js';
export { BuiltinProvider, PRIORITIZER_WEIGHTS, TaskFeaturesSchema } from './builtin/provider.js';
export { scoreTask, featurize, PRIORITIZER_FEATURES } from './builtin/prioritizer-model.js';
export type { PrioritizerWeights, PrioritizerScore, TaskFeaturesInput } from './builtin/prioritizer-model.js';
export { prioritizerPluginSources } from './builtin/prioritizer-plugin.js';
export type { ModelPluginSources } from './builtin/prioritizer-plugin.js';
export { hashedNgramEmbedding, cosine, DEFAULT_EMBEDDING_DIMENSIONS } from './builtin/embedding.js';
export { echoChat } from './builtin/echo-chat.js';
export { OpenAiProvider, OpenAiProviderConfigSchema } from './providers/openai-provider.js';
export type { OpenAiProviderConfig } from './providers/openai-provider.js';
export { WasmProvider } from './providers/wasm-provider.js';
export { InMemoryLedger } from './policy/ledger.js';
export type { BudgetLedger, LedgerLine, LedgerDelta, ReserveOutcome } from './policy/ledger.js';
export { RedisLedger } from './policy/redis-ledger.js';
export type { RedisLedgerOptions } from './policy/redis-ledger.js';
export { QuotaPolicy, QuotaConfigSchema, QuotaLimitsSchema } from './policy/quotas.js';
export type { QuotaConfig, QuotaLimits, Reservation, Estimate } from './policy/quotas.js';
export { ResultCache, canonicalJson, cacheKey } from './cache.js';
export { CircuitBreakers } from './resilience.js';
export type { CircuitState, CircuitBreakerOptions } from './resilience.js';
export { Redactor, REDACTED } from './redact.js';
export { MemoryAuditLog } from './audit/memory-audit.js';
export { SqliteAuditLog } from './audit/sqlite-audit.js';
export type { AuditLog, AuditRecord, AuditQuery, UsageSummary, UsageGroup } from './audit/port.js';
export { createOpenAiHandler, toBase64Float32 } from './http/openai-endpoint.js';
export type { OpenAiEndpointOptions, EndpointCaller } from './http/openai-endpoint.js';
export { openAiErrorFor } from './http/openai-errors.js';
export { listGatewayModels, testModelCall, gatewayUsage, recentCalls } from './admin.js';
export type { ModelListing } from './admin.js';
export { forRuntime } from './runtime-adapter.js';
export type { RuntimeModelCall } from './runtime-adapter.js';
