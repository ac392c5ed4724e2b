/**
 * At most `size` engine runs at once; the others wait in arrival order. A slot is held until the engine
 * run itself ends (a request that timed out still holds it: engines cannot be interrupted), so the
 * engine is never handed more work than it can start.
 */
export class RunSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Takes a slot if one is free and nobody waits: the common case needs no promise. */
  tryAcquire(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.free++;
  }
}
