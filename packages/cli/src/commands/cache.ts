import { cacheListing, parseAge, pruneCacheForWorkspace, type CacheVerifyReport } from "@dpkg/client";
import { DpkgError } from "@dpkg/core";
import type { Argv } from "yargs";
import type { GlobalArgs, RegisterCommand, Run } from "../command.js";
import { formatBytes, formatTime, plural } from "../format.js";

export const cacheCommand: RegisterCommand = (y, select) =>
  y.command("cache", "Inspect and clean the per-user content cache (DPKG_CACHE_DIR)", (b) =>
    subcommands(b, select)
      .demandCommand(1, "give a cache command: ls, verify, prune or path")
      .example("$0 cache path", "where the cache is")
      .example("$0 cache verify", "re-hash everything cached; remove what is damaged")
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
      "verify",
      "Re-hash every cached blob and manifest; remove damaged ones, which the next install fetches again (exit 1 if any)",
      (b) =>
        b
          .option("keep-damaged", {
            type: "boolean",
            default: false,
            describe: "report damaged files but leave them in the cache",
          })
          .example("$0 cache verify", "check the whole cache, drop what does not match its digest")
          .example("$0 cache verify --keep-damaged --json", "only report, machine-readable"),
      (args) =>
        select(async (ctx) => {
          const report: CacheVerifyReport = await ctx.withProgress("verify cache", (progress) =>
            ctx.cache().verify({
              keepDamaged: args.keepDamaged,
              onProgress: (p) => progress.update({ files: p.files, bytes: p.bytes }),
            }),
          );
          const bad = report.damaged.length;
          const fate = report.removed === bad ? "removed; the next install fetches them again" : "left in place (--keep-damaged)";
          return {
            json: report,
            failure:
              bad === 0
                ? undefined
                : new DpkgError("E_INTEGRITY", `${plural(bad, "cached file")} ${bad === 1 ? "does" : "do"} not match ${bad === 1 ? "its digest" : "their digests"}: ${fate}`, {
                    damaged: bad,
                    removed: report.removed,
                  }, {
                    hint: "Run 'dpkg verify' in your workspaces: files installed from a damaged copy show as modified; delete those and run 'dpkg install'.",
                  }),
            async human(out) {
              for (const d of report.damaged) {
                const found = d.actual === null ? `unreadable: ${d.error ?? "?"}` : `hashes to ${d.actual}`;
                await out.line(`${out.colors.red("damaged")}  ${d.kind.padEnd(8)}  ${d.digest}  ${out.colors.dim(found)}`);
              }
              await out.line(
                `checked ${plural(report.blobs, "blob")} and ${plural(report.manifests, "manifest")} (${formatBytes(report.bytes)}) in ${report.root}: ${bad === 0 ? out.colors.green("all intact") : out.colors.red(`${bad} damaged`)}`,
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
