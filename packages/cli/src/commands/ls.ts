import { listEntries } from "@dpkg/client";
import { canonicalJson } from "@dpkg/core";
import type { RegisterCommand } from "../command.js";
import { formatBytes, plural, shortDigest } from "../format.js";

export const lsCommand: RegisterCommand = (y, select) =>
  y.command(
    "ls <ref>",
    "List the entries of a revision, optionally only those matching --where and --path",
    (b) =>
      b
        .positional("ref", {
          type: "string",
          demandOption: true,
          describe: "NAME[@REF]: a package, a tag or a digest (prefix)",
        })
        .option("where", {
          type: "string",
          describe: "a query over path, size, digest and meta.*, evaluated by the registry",
        })
        .option("path", {
          type: "string",
          array: true,
          describe: "path globs (repeatable); a folder selects everything below it",
        })
        .option("long", {
          alias: "l",
          type: "boolean",
          default: false,
          describe: "show size, digest and metadata of each entry",
        })
        .example("$0 ls mypkg/images", "every path of the latest revision")
        .example("$0 ls mypkg/images@v1 --path 'train/**' --long", "one folder of tag v1, with sizes and digests")
        .example(
          `$0 ls aics/cells --where "meta.cell_line = 'AICS-12' AND size < 5e7"`,
          "entries selected by metadata",
        ),
    (args) =>
      select(async (ctx) => {
        const listing = await listEntries(await ctx.client("dpkg ls"), args.ref, {
          where: args.where,
          paths: args.path,
        });
        return {
          json: {
            name: listing.name,
            digest: listing.digest,
            entries: listing.entries,
            totals: () => listing.totals(),
          },
          async human(out) {
            for await (const e of listing.entries) {
              if (!args.long) {
                await out.line(e.path);
                continue;
              }
              const meta = e.meta === undefined ? "" : `  ${out.colors.dim(canonicalJson(e.meta))}`;
              await out.line(
                `${formatBytes(e.size).padStart(10)}  ${out.colors.dim(shortDigest(e.digest))}  ${e.path}${meta}`,
              );
            }
            if (args.long) {
              const t = listing.totals();
              await out.line(
                out.colors.dim(
                  `${plural(t.entries, "entry", "entries")}, ${formatBytes(t.bytes)} in ${listing.name}@${listing.digest}`,
                ),
              );
            }
          },
        };
      }),
  );
