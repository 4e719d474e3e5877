/**
 * Runs `task` over `items` (an array, or a stream of items read as the workers free up, so a long
 * listing is never held whole) with at most `limit` at once. After the first failure no new task
 * starts; the ones in flight are awaited (so no file handle or request outlives the call) and the
 * first error is thrown.
 */
export async function runLimited<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const source = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : null;
  const iterator = source === null ? (items as Iterable<T>)[Symbol.iterator]() : null;
  let next = 0;
  let turn: Promise<void> | undefined;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed) {
      let step: IteratorResult<T>;
      try {
        // An array is read without an await per item: the plan of a million files runs through here.
        step = iterator !== null ? iterator.next() : await source!.next();
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
        return;
      }
      if (step.done === true) return;
      const index = next++;
      // Tasks that finish without real I/O (synchronous system calls, answers already known) would run
      // as one unbroken chain of microtasks, and timers (a lock's refresh, progress) would starve:
      // every YIELD_EVERY items all workers wait for the same turn of the event loop.
      if (index > 0 && index % YIELD_EVERY === 0) turn = new Promise<void>((resolve) => setImmediate(resolve));
      if (turn !== undefined) await turn;
      try {
        await task(step.value, index);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, () => worker()));
  // A stream left early (after a failure) is closed, so that it lets go of what it holds.
  if (failed) {
    await source?.return?.();
    throw firstError;
  }
}

/** Items started between two turns of the event loop. */
export const YIELD_EVERY = 1024;
