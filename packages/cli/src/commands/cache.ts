import { cacheListing, parseAge, pruneCacheForWorkspace } from "@dpkg/client";
import type { Argv } from "yargs";
import type { GlobalArgs, RegisterCommand, Run } from "../command.js";
import { formatBytes, formatTime, plural } from "../format.js";

export const cacheCommand: RegisterCommand = (y, select) =>
  y.command("cache", "Inspect and clean the per-user content cache (DPKG_CACHE_DIR)", (b) =>
    subcommands(b, select)
      .demandCommand(1, "give a cache command: ls, prune or path")
      .example("$0 cache path", "where the cache is")
      .example("$0 cache prune --older-than 30d", "remove what no install used for a month"),
  );

function subcommands(y: Argv<GlobalArgs>, select: (run: Run) => void): Argv<GlobalArgs> {
  return y
    .command(
      "ls",
      "List cached blobs and manifests with their size and last use",
      (b) => b.example("$0 cache ls", "everything in the cache").example("$0 cache ls --json", "as JSON, with totals"),
      () =>
        select(async (ctx) => {
          const listing = cacheListing(ctx.cache());
          return {
            json: { root: listing.root, items: listing.items, totals: () => listing.totals() },
            async human(out) {
              for await (const item of listing.items) {
                await out.line(
                  `${item.kind.padEnd(8)}  ${item.digest}  ${formatBytes(item.size).padStart(10)}  ${out.colors.dim(formatTime(item.lastUsed.toISOString()))}`,
                );
              }
              const t = listing.totals();
              await out.line(
                `${plural(t.blobs, "blob")} (${formatBytes(t.blobBytes)}), ${plural(t.manifests, "manifest")} (${formatBytes(t.manifestBytes)}) in ${listing.root}`,
              );
            },
          };
        }),
    )
    .command(
      "prune",
      "Remove cached files not used recently; what this workspace's dpkg.lock pins is kept",
      (b) =>
        b
          .option("older-than", {
            type: "string",
            describe: "only files not used for this long: 90m, 12h, 30d, 2w (default: everything unpinned)",
          })
          .example("$0 cache prune", "remove everything this workspace does not pin")
          .example("$0 cache prune --older-than 30d", "remove what was not used for 30 days"),
      (args) =>
        select(async (ctx) => {
          const olderThan = args.olderThan === undefined ? undefined : new Date(Date.now() - parseAge(args.olderThan));
          const result = await pruneCacheForWorkspace(ctx.cache(), { cwd: ctx.cwd, olderThan });
          return {
            json: result,
            human: (out) =>
              out.line(
                `removed ${plural(result.removed, "file")} (${formatBytes(result.bytes)}); kept ${plural(result.kept, "pinned digest")}`,
              ),
          };
        }),
    )
    .command(
      "path",
      "Print the cache folder",
      (b) =>
        b
          .example("$0 cache path", "e.g. ~/.cache/dpkg")
          .example('du -sh "$($0 cache path)"', "how much space it takes"),
      () =>
        select(async (ctx) => {
          const root = ctx.cache().root;
          return { json: { root }, human: (out) => out.line(root) };
        }),
    );
}
