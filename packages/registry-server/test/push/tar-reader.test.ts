import { randomBytes } from "node:crypto";
import { extract, pack, type Header } from "tar-stream";
import { describe, expect, it } from "vitest";
import { TarReader, type TarHeader } from "../../src/push/tar-reader.js";
import { chunked } from "./fixtures.js";

type Entry = Partial<Header> & { name: string; body?: Buffer };

async function archive(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const { body, ...header } of entries) p.entry(header, body ?? Buffer.alloc(0));
  p.finalize();
  const out: Buffer[] = [];
  for await (const chunk of p) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

/** Every member as tar-stream reads it: the reader this one replaces on the upload path. */
async function viaTarStream(tar: Buffer): Promise<{ header: TarHeader; bytes: Buffer }[]> {
  const ex = extract();
  const done = (async () => {
    for await (const c of chunked(tar, 300)) if (!ex.write(c)) await new Promise<void>((r) => ex.once("drain", () => r()));
    ex.end(null);
  })();
  const out: { header: TarHeader; bytes: Buffer }[] = [];
  for await (const entry of ex) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    out.push({ header: { name: entry.header.name, size: entry.header.size ?? 0, type: entry.header.type ?? "" }, bytes: Buffer.concat(parts) });
  }
  await done;
  return out;
}

async function viaReader(tar: Uint8Array, chunkSize = 300): Promise<{ members: { header: TarHeader; bytes: Buffer }[]; endMarker: boolean }> {
  const reader = new TarReader(chunked(tar, chunkSize));
  const members: { header: TarHeader; bytes: Buffer }[] = [];
  for (let h = await reader.next(); h !== null; h = await reader.next()) {
    if (h.size > 1000) {
      const parts: Buffer[] = [];
      for await (const c of reader.stream(h.size)) parts.push(Buffer.from(c));
      members.push({ header: h, bytes: Buffer.concat(parts) });
    } else {
      members.push({ header: h, bytes: Buffer.from(await reader.read(h.size)) });
    }
  }
  return { members, endMarker: reader.endMarker };
}

/** Rewrites a header block's size field in base-256 (as tars write sizes of 8 GiB and more) and fixes its checksum. */
function base256Size(tar: Buffer, at: number, size: number): void {
  tar[at + 124] = 0x80;
  for (let i = 11, n = size; i > 0; i--, n = Math.floor(n / 256)) tar[at + 124 + i] = n & 0xff;
  let sum = 8 * 0x20;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += tar[at + i]!;
  tar.write(sum.toString(8).padStart(6, "0") + "\u0000 ", at + 148, "latin1");
}

describe("TarReader", () => {
  const entries: Entry[] = [
    { name: "a".repeat(64), body: randomBytes(700) },
    { name: "empty", body: Buffer.alloc(0) },
    { name: "dir", type: "directory" },
    { name: "link", type: "symlink", linkname: "a" },
    { name: "deep/" + "p".repeat(120) + "/x", body: randomBytes(5) }, // a ustar prefix
    { name: "n".repeat(150), body: randomBytes(2000) }, // a pax path record
    { name: "été-ünïcode", body: randomBytes(512) }, // a pax path record too (not ASCII)
    { name: "exact", body: randomBytes(1024) },
  ];

  it("reads members as tar-stream does, in chunks of any size", async () => {
    const tar = await archive(entries);
    const expected = await viaTarStream(tar);
    expect(expected.map((m) => m.header.name)).toEqual(entries.map((e) => e.name));
    for (const size of [1, 300, 512, 100_000]) {
      const got = await viaReader(tar, size);
      expect(got.members).toEqual(expected);
      expect(got.endMarker).toBe(true);
    }
  });

  it("hands out a member held by one chunk as a view of it, and copies one that straddles chunks", async () => {
    const bodies = [randomBytes(700), randomBytes(100), randomBytes(900)];
    const tar = await archive(bodies.map((body, i) => ({ name: `m${i}`, body })));
    // Chunk 1 holds member 0 (header at 0, bytes 512-1212) but ends inside its padding, at 1312;
    // member 1 (header at 1536, bytes 2048-2148) lies in chunk 2; member 2 (bytes 3072-3972) straddles 3500.
    const chunks = [tar.subarray(0, 1312), tar.subarray(1312, 3500), tar.subarray(3500)];
    const reader = new TarReader((async function* () { yield* chunks; })());
    const got: Uint8Array[] = [];
    for (let h = await reader.next(); h !== null; h = await reader.next()) got.push(await reader.read(h.size));
    expect(got.map((b) => Buffer.from(b))).toEqual(bodies);
    expect(got.map((b) => b.buffer === tar.buffer)).toEqual([true, true, false]);
    expect(reader.endMarker).toBe(true);
  });

  it("reads sizes written in base 256", async () => {
    const body = randomBytes(600);
    const tar = await archive([{ name: "big", body }]);
    base256Size(tar, 0, 600);
    expect((await viaReader(tar)).members).toEqual([{ header: { name: "big", size: 600, type: "file" }, bytes: body }]);
  });

  it("tells an archive without its end-of-archive marker, and refuses one cut inside a member or header", async () => {
    const tar = await archive(entries.slice(0, 2));
    expect((await viaReader(tar.subarray(0, tar.length - 1024))).endMarker).toBe(false);
    await expect(viaReader(tar.subarray(0, 512 + 300))).rejects.toThrow(/ends inside a member/);
    await expect(viaReader(tar.subarray(0, 512 + 1024 + 100))).rejects.toThrow(/ends inside a header/);
  });

  it("refuses blocks that are not tar headers", async () => {
    await expect(viaReader(Buffer.alloc(2048, 0x41))).rejects.toThrow(/checksum/);
  });
});
