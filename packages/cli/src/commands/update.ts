import { update, type UpdateReport } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";
import { shortDigest } from "../format.js";
import { describeInstall, fetchSnapshot } from "./install.js";

export const updateCommand: RegisterCommand = (y, select) =>
  y.command(
    "update [name]",
    "Move pins in dpkg.lock to what the wanted refs in dpkg.json resolve to now, install, and show what changed",
    (b) =>
      b
        .positional("name", { type: "string", describe: "only this package (default: all in dpkg.json)" })
        .example("$0 update", "every package to its wanted ref (e.g. the new latest)")
        .example("$0 update mypkg/images --json", "one package, machine-readable"),
    (args) =>
      select(async (ctx) => {
        const result: UpdateReport = await ctx.withProgress("update", async (progress) =>
          update({
            client: await ctx.client("dpkg update"),
            cache: ctx.cache(),
            cwd: ctx.cwd,
            name: args.name,
            concurrency: ctx.concurrency,
            onProgress: (p) => progress.update(fetchSnapshot(p)),
            onWait: (lock) => ctx.note(`waiting for another dpkg working in this workspace (${lock})`),
          }),
        );
        return {
          json: result,
          async human(out) {
            if (result.changes.length === 0) await out.line("everything is up to date");
            for (const c of result.changes) {
              await out.line(
                `${out.colors.bold(c.name)}: ${c.from === null ? "(new)" : shortDigest(c.from)} → ${shortDigest(c.to)}`,
              );
            }
            if (result.install.packages.length > 0) await describeInstall(out, result.install);
          },
        };
      }),
  );
