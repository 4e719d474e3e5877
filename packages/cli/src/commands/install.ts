import { install, type FetchProgress, type InstallReport } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";
import { formatBytes, plural, shortDigest } from "../format.js";
import type { Printer } from "../output.js";
import type { ProgressSnapshot } from "../progress.js";

const LINKS = ["copy", "reflink", "hardlink", "symlink"] as const;

export const installCommand: RegisterCommand = (y, select) =>
  y.command(
    "install [spec]",
    "Install a package (or a slice of it) into the workspace and pin it in dpkg.lock; without NAME, install what dpkg.lock pins",
    (b) =>
      b
        .positional("spec", { type: "string", describe: "NAME[@REF]; absent: reproduce dpkg.lock" })
        .option("dest", {
          type: "string",
          describe: "folder to install into (default data/<ns>/<name> under the workspace root)",
        })
        .option("path", { type: "string", array: true, describe: "install only paths matching this glob (repeatable)" })
        .option("where", { type: "string", describe: "install only entries matching this query" })
        .option("link", {
          choices: LINKS,
          describe: "how files are materialized from the cache (default copy, or reflink where cheap)",
        })
        .option("lazy", {
          type: "boolean",
          default: false,
          describe: "pin and cache the manifest only; code fetches entries on demand",
        })
        .option("frozen", {
          type: "boolean",
          default: false,
          describe: "fail if dpkg.json and dpkg.lock disagree (CI)",
        })
        .example("$0 install mypkg/images", "latest into data/mypkg/images, pinned in dpkg.lock")
        .example(
          `$0 install aics/cells@v1 --where "meta.cell_line = 'AICS-12'" --path 'images/**'`,
          "only a slice of tag v1",
        )
        .example("$0 install --frozen", "exactly what dpkg.lock pins, e.g. in CI")
        .example("$0 install mypkg/images --lazy", "pin only; open() fetches entries when code reads them"),
    (args) =>
      select(async (ctx) => {
        const report: InstallReport = await ctx.withProgress("install", async (progress) =>
          install({
            client: await ctx.clientOrOffline(),
            cache: ctx.cache(),
            cwd: ctx.cwd,
            spec: args.spec,
            dest: args.dest,
            paths: args.path,
            where: args.where,
            link: args.link,
            lazy: args.lazy || undefined,
            frozen: args.frozen || undefined,
            concurrency: ctx.concurrency,
            onProgress: (p) => progress.update(fetchSnapshot(p)),
            onWait: (lock) => ctx.note(`waiting for another dpkg working in this workspace (${lock})`),
          }),
        );
        return { json: report, human: (out) => describeInstall(out, report) };
      }),
  );

export async function describeInstall(out: Printer, report: InstallReport): Promise<void> {
  if (report.packages.length === 0 && report.uninstalled.length === 0)
    await out.line("nothing to install: dpkg.lock pins no packages");
  for (const p of report.packages) {
    await out.line(
      `${out.colors.bold(p.name)}@${shortDigest(p.digest)} → ${p.dest}${p.lazy ? " (lazy: pinned, fetched on open)" : ""}`,
    );
    if (!p.lazy) {
      const changes = [`${p.written} written`, `${p.unchanged} unchanged`];
      if (p.removed > 0) changes.push(`${p.removed} removed`);
      await out.line(
        `  ${plural(p.entries, "entry", "entries")} (${formatBytes(p.bytes)}); fetched ${formatBytes(p.fetchedBytes)}; ${changes.join(", ")}`,
      );
    }
    for (const path of p.keptModified)
      await out.line(out.colors.yellow(`  kept ${path}: changed by you, no longer managed by dpkg`));
  }
  for (const u of report.uninstalled) {
    await out.line(`${out.colors.bold(u.name)} uninstalled from ${u.dest}: ${plural(u.removed, "file")} removed`);
    for (const path of u.keptModified)
      await out.line(out.colors.yellow(`  kept ${path}: changed by you, no longer managed by dpkg`));
  }
}

export function fetchSnapshot(p: FetchProgress & { phase: string }): ProgressSnapshot {
  return { phase: p.phase, files: p.blobs, totalFiles: p.totalBlobs, bytes: p.bytes, totalBytes: p.totalBytes };
}
