import { openEntry } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";

export const catCommand: RegisterCommand = (y, select) =>
  y.command(
    "cat <ref> <path>",
    "Write the bytes of one entry to stdout, verified against its digest (--json does not apply: the bytes are the output)",
    (b) =>
      b
        .positional("ref", { type: "string", demandOption: true, describe: "NAME[@REF]" })
        .positional("path", { type: "string", demandOption: true, describe: "the entry's path in the package" })
        .example("$0 cat mypkg/images labels.csv | head", "the first lines of an entry of latest")
        .example("$0 cat mypkg/images@v1 train/0001.png > 0001.png", "one file of tag v1"),
    (args) =>
      select(async (ctx) => {
        const opened = await openEntry(await ctx.clientOrOffline(), ctx.cache(), args.ref, args.path);
        return { raw: opened.bytes };
      }),
  );
