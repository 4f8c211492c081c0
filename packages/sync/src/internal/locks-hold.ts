/**
 * @internal What `hold()` returns: disposing it calls `release` once; disposing
 * again does nothing, so `using` plus an explicit dispose cannot over-release.
 */
export function releaseOnDispose(release: () => void): Disposable {
  let held = true;
  return {
    [Symbol.dispose](): void {
      if (!held) return;
      held = false;
      release();
    },
  };
}
