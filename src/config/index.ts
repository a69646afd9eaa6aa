export { loadConfig, settingsFromEnv, redact, SETTING_ENV } from './config.js';
export type { UeeConfig, StoreConfig, BusConfig, RawSettings } from './config.js';
