import { isDpkgError, type DpkgError } from "@dpkg/core";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyEntryMeta, readEntryMetaFile } from "../src/push/entry-meta.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";

describe("readEntryMetaFile", () => {
  let tmp: TempDir;
  let file: string;
  beforeEach(async () => {
    tmp = await makeTempDir("dpkg-entry-meta");
    file = join(tmp.path, "meta.jsonl");
  });
  afterEach(async () => tmp.cleanup());

  const failure = async (text: string): Promise<DpkgError> => {
    await writeFile(file, text);
    return readEntryMetaFile(file).then(
      () => {
        throw new Error("expected a rejection");
      },
      (err: DpkgError) => err,
    );
  };

  it("reads one entry per line, skipping blank lines, CRLF or LF, paths in NFC", async () => {
    await writeFile(
      file,
      '{"path":"a/x.png","meta":{"label":"cat","n":1}}\r\n\n  \n{"meta":{"nested":{"k":[1,2]}},"path":"cafe\u0301.txt"}\n',
    );
    const meta = await readEntryMetaFile(file);
    expect([...meta]).toEqual([
      ["a/x.png", { label: "cat", n: 1 }],
      ["café.txt", { nested: { k: [1, 2] } }],
    ]);
  });

  it("splits lines on a lone CR too, across read chunks, and reads a last line without a break", async () => {
    // A first line of 65,535 bytes puts its CRLF across the 64 KiB boundary of the file's read chunks.
    const big = `{"path":"big","meta":{"p":"${"x".repeat(65535 - 30)}"}}`;
    expect(big.length).toBe(65535);
    await writeFile(file, `${big}\r\n{"path":"a","meta":{}}\r{"path":"b","meta":{}}\r\r\n{"path":"last","meta":{"n":1}}`);
    const meta = await readEntryMetaFile(file);
    expect([...meta.keys()]).toEqual(["big", "a", "b", "last"]);
    expect(meta.get("last")).toEqual({ n: 1 });
    expect((await failure(`${big}\r\n{"path":"b"}\n`)).message).toMatch(/:2: "meta" must be a JSON object/);
    // Line numbers count every break: the CR before a CRLF ends an empty line 2.
    const err = await failure('{"path":"a","meta":{}}\r\r\n{"path":"b"}');
    expect(err.message).toMatch(/:3: "meta" must be a JSON object/);
  });

  it("names the line of invalid JSON", async () => {
    const err = await failure('{"path":"a","meta":{}}\n\n{"path": "b", meta}\n');
    expect(err.code).toBe("E_BAD_JSON");
    expect(err.message).toContain(`${file}:3:`);
  });

  it("refuses lines of the wrong shape, naming the line and the problem", async () => {
    expect((await failure('{"path":"a"}\n')).message).toMatch(/:1: "meta" must be a JSON object/);
    expect((await failure('{"path":"a","meta":[]}\n')).message).toMatch(/"meta" must be a JSON object/);
    expect((await failure('{"path":7,"meta":{}}\n')).message).toMatch(/"path" must be a string/);
    expect((await failure('{"path":"a","meta":{},"metadata":{}}\n')).message).toMatch(/unexpected field "metadata"/);
    expect((await failure("[1]\n")).code).toBe("E_BAD_REQUEST");
  });

  it("refuses a path that is not an entry path", async () => {
    const err = await failure('{"path":"a/../../etc/passwd","meta":{}}\n');
    expect(err.code).toBe("E_BAD_PATH");
    expect(err.message).toContain(`${file}:1`);
  });

  it("refuses a path given twice, naming both lines", async () => {
    const err = await failure('{"path":"a","meta":{"x":1}}\n{"path":"b","meta":{}}\n{"path":"a","meta":{"x":2}}\n');
    expect(err.code).toBe("E_BAD_REQUEST");
    expect(err.message).toBe(`${file}:3: path "a" was already given on line 1`);
  });

  it("reports a missing file as E_IO", async () => {
    const err = await readEntryMetaFile(join(tmp.path, "nope.jsonl")).catch((e: unknown) => e);
    expect(isDpkgError(err, "E_IO")).toBe(true);
  });
});

describe("applyEntryMeta", () => {
  it("attaches metadata by path and refuses paths that match no file", () => {
    const entries = [{ path: "a" }, { path: "b" }];
    expect(applyEntryMeta(entries, new Map([["b", { k: 1 }]]))).toEqual([{ path: "a" }, { path: "b", meta: { k: 1 } }]);
    let err: unknown;
    try {
      applyEntryMeta(entries, new Map([["c", {}], ["b", {}]]));
    } catch (e) {
      err = e;
    }
    expect(isDpkgError(err, "E_BAD_REQUEST")).toBe(true);
    expect((err as Error).message).toMatch(/1 path\(s\) that match no file pushed: "c"/);
  });
});
