import { describe, expect, it } from "vitest";
import { writeJson } from "../src/json-writer.js";

async function render(value: unknown): Promise<string> {
  let out = "";
  await writeJson(value, async (t) => {
    out += t;
  });
  return out;
}

describe("streaming JSON writer", () => {
  it("writes what JSON.stringify writes for plain values", async () => {
    const value = { a: 1, b: [true, null, "x\n"], c: { d: undefined, e: new Date(0) }, f: [undefined] };
    expect(await render(value)).toBe(JSON.stringify(value));
  });

  it("writes async iterables as arrays and calls thunks when it reaches them", async () => {
    let seen = 0;
    async function* items(): AsyncGenerator<{ n: number }> {
      for (let n = 0; n < 3; n++) {
        seen += 1;
        yield { n };
      }
    }
    const text = await render({ items: items(), total: () => seen, later: async () => Promise.resolve("done") });
    expect(JSON.parse(text)).toEqual({ items: [{ n: 0 }, { n: 1 }, { n: 2 }], total: 3, later: "done" });
  });
});
