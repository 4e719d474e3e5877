import { verifyWorkspace, type Mismatch, type VerifyReport } from "@dpkg/client";
import { DpkgError } from "@dpkg/core";
import type { RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../format.js";
import type { Colors } from "../output.js";

export const verifyCommand: RegisterCommand = (y, select) =>
  y.command(
    "verify [dir]",
    "Re-hash installed files against dpkg.lock and report every mismatch (exit 1 if any)",
    (b) =>
      b
        .positional("dir", {
          type: "string",
          describe: "the workspace, or a folder in it (default: the current workspace)",
        })
        .example("$0 verify", "check every installed package of this workspace")
        .example("$0 verify data/mypkg/images --json", "check one install folder, machine-readable"),
    (args) =>
      select(async (ctx) => {
        const report: VerifyReport = await ctx.withProgress("verify", async (progress) =>
          verifyWorkspace({
            cwd: ctx.cwd,
            dir: args.dir,
            cache: ctx.cache(),
            client: await ctx.clientOrOffline(),
            concurrency: ctx.concurrency,
            onProgress: (p) => progress.update(p),
          }),
        );
        const bad = report.packages.reduce((n, p) => n + p.mismatches.length, 0);
        return {
          json: report,
          failure:
            bad === 0
              ? undefined
              : new DpkgError(
                  "E_INTEGRITY",
                  `${plural(bad, "installed file")} ${bad === 1 ? "does" : "do"} not match dpkg.lock`,
                  { mismatches: bad },
                  {
                    hint: "Run 'dpkg install' to restore the pinned files (files you changed there are overwritten).",
                  },
                ),
          async human(out) {
            for (const p of report.packages) {
              const status = p.lazy
                ? out.colors.dim("lazy, nothing installed")
                : p.mismatches.length === 0
                  ? out.colors.green("ok")
                  : out.colors.red(`${plural(p.mismatches.length, "mismatch", "mismatches")}`);
              await out.line(`${p.name} → ${p.dest}: ${plural(p.files, "file")} (${formatBytes(p.bytes)}) ${status}`);
              for (const m of p.mismatches) await out.line(`  ${describeMismatch(m, out.colors)}`);
            }
            if (report.packages.length === 0) await out.line("no installed package lies in that folder");
          },
        };
      }),
  );

function describeMismatch(m: Mismatch, c: Colors): string {
  switch (m.problem) {
    case "missing":
      return `${c.red("missing")}     ${m.file}`;
    case "not-a-file":
      return `${c.red("not a file")}  ${m.file}`;
    case "modified":
      return `${c.yellow("modified")}    ${m.file}  ${c.dim(`${formatBytes(m.actual?.size ?? 0)}, expected ${formatBytes(m.expected.size)} ${m.expected.digest}`)}`;
  }
}
