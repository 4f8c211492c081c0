export type { HubConformanceOptions } from './run.js';
export { runHubConformance } from './run.js';
