import { describe, expect, it } from "vitest";
import { createProgress, rateOf, renderProgressLine } from "../src/progress.js";

describe("progress bar", () => {
  it("renders files, bytes, percentage, rate and ETA within the width", () => {
    const line = renderProgressLine(
      "push",
      { phase: "upload", files: 120, totalFiles: 300, bytes: 512 * 1024 * 1024, totalBytes: 1024 * 1024 * 1024 },
      64 * 1024 * 1024,
      120,
    );
    expect(line).toBe(
      "push upload  [===============>              ]  50%  120/300 files  512 MiB/1.0 GiB  64.0 MiB/s  ETA 8s",
    );
    expect(renderProgressLine("fetch", { bytes: 10 }, undefined, 100)).toBe("fetch  10 B");
    // A push sends while it still hashes: what went up so far is shown beside what was hashed.
    expect(
      renderProgressLine("push", { phase: "hash", files: 3, totalFiles: 4, bytes: 3072, totalBytes: 4096, sentBytes: 1024 }, undefined, 100),
    ).toBe("push hash  [======================>       ]  75%  3/4 files  3.0 KiB/4.0 KiB  sent 1.0 KiB");
    expect(
      renderProgressLine("push", { phase: "upload", files: 1, totalFiles: 2, bytes: 1024, totalBytes: 2048, sentBytes: 1024 }, undefined, 100),
    ).not.toContain("sent");
    expect(
      renderProgressLine("push", { phase: "hash", files: 1, totalFiles: 2, bytes: 5, totalBytes: 10 }, undefined, 20),
    ).toHaveLength(20);
  });

  it("measures the rate over a recent window", () => {
    expect(rateOf([{ t: 0, bytes: 0 }])).toBeUndefined();
    expect(
      rateOf([
        { t: 0, bytes: 0 },
        { t: 1000, bytes: 2048 },
      ]),
    ).toBe(2048);
  });

  it("draws in place, throttled, restarts the rate on a new phase, and clears itself when done", () => {
    const writes: string[] = [];
    let t = 0;
    const p = createProgress({
      stream: { write: (s) => (writes.push(s), true), columns: 100 },
      label: "push",
      enabled: true,
      intervalMs: 100,
      now: () => t,
    });
    p.update({ phase: "hash", bytes: 0, totalBytes: 100 });
    t = 50;
    p.update({ phase: "hash", bytes: 10, totalBytes: 100 }); // throttled
    t = 1000;
    p.update({ phase: "hash", bytes: 100, totalBytes: 100 });
    t = 1100;
    p.update({ phase: "upload", bytes: 0, totalBytes: 100 });
    p.done();
    expect(writes).toHaveLength(4);
    expect(writes.every((w) => w.startsWith("\r") && !w.includes("\n"))).toBe(true);
    expect(writes[1]).toContain("100 B/s");
    expect(writes[2]).toContain("push upload");
    expect(writes[2]).not.toContain("/s");
    expect(writes[3]).toBe("\r\u001b[K");
  });

  it("writes nothing when disabled (no TTY, --json or --quiet)", () => {
    const writes: string[] = [];
    const p = createProgress({ stream: { write: (s) => (writes.push(s), true) }, label: "x", enabled: false });
    p.update({ bytes: 1 });
    p.done();
    expect(writes).toEqual([]);
  });
});
