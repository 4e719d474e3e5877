/**
 * At most `n` tasks at once across everything a fetch does (group reads and ranges of large blobs
 * share one budget). After `stop()`, queued tasks are refused instead of started.
 */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  stop(reason: unknown): void;
}

export function createLimiter(n: number): Limiter {
  let active = 0;
  let stopped: { reason: unknown } | null = null;
  const queue: (() => void)[] = [];
  // A finishing task hands its slot straight to the next in line, so a newcomer never jumps the queue.
  const release = (): void => {
    const next = queue.shift();
    if (next === undefined) active -= 1;
    else next();
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < n) active += 1;
      else await new Promise<void>((resolve) => queue.push(resolve));
      try {
        if (stopped !== null) throw stopped.reason;
        return await task();
      } finally {
        release();
      }
    },
    stop(reason) {
      stopped ??= { reason };
    },
  };
}

/** Awaits every promise (nothing keeps running after this returns), then throws the first failure. */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}
