import { push, readEntryMetaFile, readMetaFile, type PushReport } from "@dpkg/client";
import { parseDigest, parsePackageName, type Digest } from "@dpkg/core";
import type { RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../format.js";
import type { Printer } from "../output.js";

export const pushCommand: RegisterCommand = (y, select) =>
  y.command(
    "push <dir> <name>",
    "Push a folder as a new revision of a package; only blobs the registry lacks are sent",
    (b) =>
      b
        .positional("dir", { type: "string", demandOption: true, describe: "the folder to push" })
        .positional("name", { type: "string", demandOption: true, describe: "the package, namespace/name" })
        .option("message", { alias: "m", type: "string", describe: "what changed, recorded with the revision" })
        .option("tag", {
          alias: "t",
          type: "string",
          array: true,
          describe: "also point this tag at the revision (repeatable); latest always moves",
        })
        .option("meta", {
          type: "string",
          describe: "FILE.json: package metadata (title, description, readme, anything)",
        })
        .option("entry-meta", {
          type: "string",
          describe: 'FILE.jsonl: per-entry metadata, lines {"path": ..., "meta": {...}}',
        })
        .option("exclude", { type: "string", array: true, describe: "leave out paths matching this glob (repeatable)" })
        .option("expect-parent", {
          type: "string",
          describe: "fail unless latest is this digest ('none': unless the package is new)",
        })
        .example("$0 push ./images mypkg/images -m 'first import'", "push a folder")
        .example(
          "$0 push ./images mypkg/images --tag v2 --meta meta.json --entry-meta labels.jsonl",
          "with a tag and metadata",
        )
        .example(
          "$0 push . mypkg/images --exclude '**/*.tmp' --expect-parent blake3:<64 hex>",
          "refuse if someone pushed meanwhile",
        ),
    (args) =>
      select(async (ctx) => {
        const pkg = parsePackageName(args.name);
        let expectParent: Digest | "none" | undefined;
        if (args.expectParent !== undefined)
          expectParent = args.expectParent === "none" ? "none" : parseDigest(args.expectParent, "--expect-parent");
        const meta = args.meta === undefined ? undefined : await readMetaFile(args.meta);
        const entryMeta = args.entryMeta === undefined ? undefined : await readEntryMetaFile(args.entryMeta);
        const client = await ctx.client("dpkg push");
        const report: PushReport = await ctx.withProgress("push", (progress) =>
          push({
            client,
            dir: args.dir,
            pkg,
            message: args.message,
            tags: args.tag,
            meta,
            entryMeta,
            exclude: args.exclude,
            expectParent,
            concurrency: ctx.concurrency,
            onProgress: (p) => progress.update(p),
            warn: (m) => ctx.warn(m),
            cache: ctx.cache(),
          }),
        );
        return { json: report, human: (out) => describePush(out, report) };
      }),
  );

async function describePush(out: Printer, r: PushReport): Promise<void> {
  // The first line is exactly the revision, for scripts: REV=$(dpkg push . ns/name | head -1)
  await out.line(r.ref);
  const what = `${plural(r.files, "file")}, ${formatBytes(r.bytes)}`;
  const reused = r.filesReused > 0 ? `; ${plural(r.filesReused, "unchanged file")} not read again` : "";
  const sent = `sent ${plural(r.blobsSent, "blob")} (${formatBytes(r.bytesSent)})${reused}`;
  await out.line(r.unchanged ? `unchanged: ${what} as in the latest revision; ${sent}` : `pushed ${what}; ${sent}`);
  if (r.tags.length > 0) await out.line(`tags: ${r.tags.join(", ")}`);
}
