import { describe, expect, it } from "vitest";
import { runLimited } from "../src/run-limited.js";

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

describe("runLimited", () => {
  it("runs every item of an array with its index, never more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const seen: [string, number][] = [];
    await runLimited(["a", "b", "c", "d", "e"], 2, async (item, index) => {
      running += 1;
      most = Math.max(most, running);
      await tick();
      seen.push([item, index]);
      running -= 1;
    });
    expect(most).toBe(2);
    expect(seen.sort()).toEqual([["a", 0], ["b", 1], ["c", 2], ["d", 3], ["e", 4]]);
  });

  it("reads a stream of items only as workers free up", async () => {
    let pulled = 0;
    let done = 0;
    let aheadMost = 0;
    async function* items(): AsyncGenerator<number> {
      for (let i = 0; i < 20; i++) {
        pulled += 1;
        aheadMost = Math.max(aheadMost, pulled - done);
        yield i;
      }
    }
    await runLimited(items(), 3, async () => {
      await tick();
      done += 1;
    });
    expect(done).toBe(20);
    expect(aheadMost).toBeLessThanOrEqual(3);
  });

  it("after the first failure starts nothing new, waits for the tasks in flight, closes the stream, and throws that failure", async () => {
    let closed = false;
    let started = 0;
    let finished = 0;
    async function* items(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 100; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const run = runLimited(items(), 4, async (i) => {
      started += 1;
      if (i === 5) throw new Error("item 5 failed");
      await tick();
      finished += 1;
    });
    await expect(run).rejects.toThrow("item 5 failed");
    expect(started).toBeLessThan(100);
    expect(finished).toBe(started - 1);
    expect(closed).toBe(true);
  });

  it("lets the event loop turn during a long run of tasks that never wait for I/O", async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);
    const spin = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // busy: a synchronous system call's worth of work
      }
    };
    try {
      await runLimited(Array.from({ length: 5000 }, (_, i) => i), 16, async () => spin(0.005));
    } finally {
      clearInterval(timer);
    }
    // A turn every 1,024 items: 4 here. Run as one chain of microtasks, timers would get at most one.
    expect(ticks).toBeGreaterThanOrEqual(3);
  });
});
