import { packageLog } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";
import { formatBytes, formatTime, plural } from "../format.js";

export const logCommand: RegisterCommand = (y, select) =>
  y.command(
    "log <name>",
    "Show the revisions of a package, newest first, with their tags",
    (b) =>
      b
        .positional("name", { type: "string", demandOption: true, describe: "the package, namespace/name" })
        .option("limit", {
          alias: "n",
          type: "number",
          default: 20,
          describe: "show at most this many revisions (1-1000)",
        })
        .example("$0 log mypkg/images", "the last 20 revisions")
        .example("$0 log mypkg/images -n 1 --json", "the latest revision as JSON"),
    (args) =>
      select(async (ctx) => {
        const log = await packageLog(await ctx.client("dpkg log"), args.name, { limit: args.limit });
        return {
          json: log,
          async human(out) {
            const c = out.colors;
            if (log.revisions.length === 0) await out.line(`${log.name} has no revisions`);
            for (const [i, r] of log.revisions.entries()) {
              if (i > 0) await out.line();
              const tags = r.tags.length > 0 ? ` ${c.green(`(${r.tags.join(", ")})`)}` : "";
              await out.line(`${c.yellow(`revision ${r.digest}`)}${tags}`);
              await out.line(`Author: ${r.author}`);
              await out.line(`Date:   ${formatTime(r.createdAt)}`);
              await out.line(`Size:   ${plural(r.entryCount, "entry", "entries")}, ${formatBytes(r.totalSize)}`);
              if (r.parent !== null) await out.line(c.dim(`Parent: ${r.parent}`));
              if (r.message !== "") {
                await out.line();
                for (const line of r.message.split("\n")) await out.line(`    ${line}`);
              }
            }
          },
        };
      }),
  );
