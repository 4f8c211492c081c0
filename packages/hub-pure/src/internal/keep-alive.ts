/**
 * Keeps the process alive while at least one holder wants it to.
 *
 * Node's signal listeners never keep the loop alive, yet a referenced, active
 * signal watcher must; one shared referenced interval does that for all of them.
 */
export class KeepAlive {
  #holders = 0;
  #interval: NodeJS.Timeout | null = null;

  acquire(): void {
    if (this.#holders++ === 0) {
      // The longest delay Node accepts: the interval exists only to be a referenced handle.
      this.#interval = setInterval(() => {}, 0x7fffffff);
    }
  }

  release(): void {
    if (this.#holders === 0) return;
    if (--this.#holders === 0 && this.#interval !== null) {
      clearInterval(this.#interval);
      this.#interval = null;
    }
  }
}
