/**
 * Polls `probe` until it returns something other than undefined, at most `timeoutMs` (then throws,
 * naming `what`). Every loop in these tests is bounded: in count by the interval, in time by this.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(options.intervalMs ?? 20);
  }
}

/**
 * Runs `probe` every `intervalMs` until `stop()` is called; returns everything it observed. For
 * watching what others can see while an operation runs (a revision that must not appear early).
 */
export function observe<T>(probe: () => Promise<T>, intervalMs = 50): { stop(): Promise<T[]> } {
  const seen: T[] = [];
  let running = true;
  const loop = (async () => {
    // Bounded by the caller's stop(), which every test awaits before it ends.
    while (running) {
      seen.push(await probe());
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
