export type { Hub, HubOptions } from '@greenhub/core';
export { createHub } from './pure-hub.js';
