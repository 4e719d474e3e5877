/**
 * Tasks started as work arrives (a batch hashed, a file to send), awaited together. After the first
 * failure no task should start new work (they check `failed`); the ones running are still awaited,
 * so that no file handle or request outlives the push, and the first error is what `wait` throws.
 */
export interface TaskGroup {
  readonly failed: boolean;
  /** Throws the first failure, if any. */
  check(): void;
  /** Starts `task`; the promise returned settles when it ends and never rejects (its failure is the group's). */
  run(task: () => Promise<void>): Promise<void>;
  /** Waits until every task, including those started meanwhile, has ended; throws the first failure. */
  wait(): Promise<void>;
}

export function createTaskGroup(): TaskGroup {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  return {
    get failed() {
      return failure !== undefined;
    },
    check() {
      if (failure !== undefined) throw failure.err;
    },
    run(task) {
      const p: Promise<void> = task()
        .catch((err: unknown) => void (failure ??= { err }))
        .finally(() => running.delete(p));
      running.add(p);
      return p;
    },
    async wait() {
      while (running.size > 0) await Promise.all(running);
      this.check();
    },
  };
}

/** At most `count` holders at once; `acquire` resolves with the function that gives the slot back. */
export interface Slots {
  acquire(): Promise<() => void>;
}

export function createSlots(count: number): Slots {
  let free = Math.max(1, count);
  const queue: (() => void)[] = [];
  const release = (): void => {
    const next = queue.shift();
    if (next !== undefined) next();
    else free += 1;
  };
  return {
    acquire() {
      let released = false;
      const once = (): void => {
        if (released) return;
        released = true;
        release();
      };
      if (free > 0) {
        free -= 1;
        return Promise.resolve(once);
      }
      return new Promise((resolve) => queue.push(() => resolve(once)));
    },
  };
}
