export { loadConfig, parseConfigText, resolveSecret, defaultConfigPath, ConfigError, EX_CONFIG } from './load.js';
export type { ConfigProblem } from './load.js';
export type { Config, SupportAddress, AgentConfig } from './schema.js';
