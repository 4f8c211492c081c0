// Shared, already-settled promises: an uncontended acquire() or a wait() on a set Event
// allocates nothing. Sharing is safe because a settled promise can never change.

/** @internal */
export const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
/** @internal */
export const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);
