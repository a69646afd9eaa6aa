export { loadConfig, settingsFromEnv, redact, SETTING_ENV } from './config.js';
export type { UeeConfig, StoreConfig, BusConfig, RawSettings } from './config.js';
export { parseTokens, parsePrincipalSpec, hashToken, parseMcpSettings, MCP_SETTING_ENV } from './mcp-settings.js';
export type { McpConfig, McpToken, RawMcpSettings } from './mcp-settings.js';
export { parseFrontDoorSettings, parseModelQuotas, FRONT_DOOR_ENV, MODEL_QUOTAS_ENV } from './front-door-settings.js';
export type { FrontDoorConfig } from './front-door-settings.js';
export { parseNpmSettings, NPM_ENV } from './npm-settings.js';
