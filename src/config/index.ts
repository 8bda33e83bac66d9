// Kestrel's configuration: oslo.config-style INI files with nova.conf's options.
//   const { config, errors, warnings } = await loadConfig({ path });
//   if (errors.length) refuse to start, printing formatProblems(errors).
export {
  loadConfig,
  readConfigFile,
  DEFAULT_CONFIG_PATH,
  MAX_CONFIG_BYTES,
  type LoadOptions,
} from './load.js';
export { parseConfigText, defaultConfig, type LoadedConfig } from './parse.js';
export { formatProblems, formatProblem, type ConfigProblem } from './problems.js';
export { schema, groupNames, type KestrelConfig, type GroupName } from './schema/index.js';
export { apiEndpoints, resolvedImagesType } from './derived.js';
