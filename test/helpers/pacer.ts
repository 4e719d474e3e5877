import { sleep } from "./wait.js";

export interface Pacer {
  /** Waits until `n` more bytes fit in the rate. */
  take(n: number): Promise<void>;
  /** Bytes per second; null: no limit. */
  setRate(rate: number | null): void;
}

/** A token bucket: bytes that go through it are held back to about `rate` bytes per second. */
export function createPacer(rate: number | null = null): Pacer {
  let current = rate;
  let next = 0;
  return {
    async take(n) {
      if (current === null || n === 0) return;
      const now = Date.now();
      const start = Math.max(next, now);
      next = start + (n / current) * 1000;
      if (start > now) await sleep(start - now);
    },
    setRate(r) {
      current = r;
      next = 0;
    },
  };
}
