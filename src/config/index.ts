export { loadConfig, withBaseDir, requireBaseDir, requireStateDir, packageRoot, DEFAULTS } from './config.js';
export type { Config, ConfigOverrides, LoadConfigOptions } from './config.js';
export { ENV_VARS } from './schema.js';
export type { EnvVarName, EnvVarSpec } from './schema.js';
