export type { LibevHubOptions } from './hub.js';
export { createHub, LibevHub } from './hub.js';
