import { deleteTag, tagRevision, type TagResult } from "@dpkg/client";
import { DpkgError } from "@dpkg/core";
import type { RegisterCommand } from "../command.js";
import type { Printer } from "../output.js";

export const tagCommand: RegisterCommand = (y, select) =>
  y.command(
    "tag <ref> <tag>",
    "Point a tag at a revision (NAME@REF TAG), or remove one (--delete NAME TAG)",
    (b) =>
      b
        .positional("ref", {
          type: "string",
          demandOption: true,
          describe: "NAME@REF to tag; with --delete, the package NAME",
        })
        .positional("tag", { type: "string", demandOption: true, describe: "the tag, e.g. v1, prod" })
        .option("delete", { alias: "d", type: "boolean", default: false, describe: "remove the tag instead" })
        .example("$0 tag mypkg/images@blake3:0123abcd v1", "tag a revision by digest prefix")
        .example("$0 tag mypkg/images@latest prod", "promote what latest is now")
        .example("$0 tag --delete mypkg/images v1", "remove tag v1"),
    (args) =>
      select(async (ctx) => {
        const client = await ctx.client("dpkg tag");
        let result: TagResult;
        if (args.delete) {
          if (args.ref.includes("@")) {
            throw new DpkgError(
              "E_USAGE",
              `tag --delete takes a package name, not a ref: ${JSON.stringify(args.ref)}`,
              {},
              {
                hint: `Write: dpkg tag --delete ${args.ref.slice(0, args.ref.indexOf("@"))} ${args.tag}`,
              },
            );
          }
          result = await deleteTag(client, args.ref, args.tag);
        } else {
          result = await tagRevision(client, args.ref, args.tag);
        }
        return { json: result, human: (out) => describeMove(out, result) };
      }),
  );

async function describeMove(out: Printer, m: TagResult): Promise<void> {
  if (m.to === null) {
    await out.line(`deleted tag ${m.tag} of ${m.name}${m.from === null ? "" : ` (was ${m.from})`}`);
  } else if (m.from === m.to) {
    await out.line(`${m.name}@${m.tag} already points at ${m.to}`);
  } else {
    await out.line(`${m.name}@${m.tag} → ${m.to}${m.from === null ? " (new tag)" : ` (was ${m.from})`}`);
  }
}
