/**
 * Per-session quiet timers: a session with a debounce becomes ready for its turn only after no
 * new message came for `ms`, so a burst of quick messages is answered as one turn.
 */
export class Debouncer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(readonly ms: number) {}

  /** (Re)start `key`'s timer; `fire` runs once the key was quiet for `ms`. */
  hold(key: string, fire: () => void): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        fire();
      }, this.ms),
    );
  }

  /** True while `key` waits for quiet. */
  holding(key: string): boolean {
    return this.timers.has(key);
  }

  /** Drop every timer (close). */
  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
