// Public surface of the synthetic data generator used by `asof demo`, `asof gen` and the benchmarks.

export type { GenFile, GenFormat, GenOptions, GenResult, GenSourceName } from './generate.js';
export { generate, renderSpec } from './generate.js';
