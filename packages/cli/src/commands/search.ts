import { searchPackages } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";

export const searchCommand: RegisterCommand = (y, select) =>
  y.command(
    "search <text..>",
    "Find packages by name, metadata (title, description, ...) or entry path",
    (b) =>
      b
        .positional("text", { type: "string", array: true, demandOption: true, describe: "words to look for" })
        .option("limit", { type: "number", default: 20, describe: "at most this many hits (1-100)" })
        .example("$0 search cells", "packages about cells")
        .example("$0 search microscopy images --limit 5 --json", "the five best hits as JSON"),
    (args) =>
      select(async (ctx) => {
        const hits = await searchPackages(await ctx.client("dpkg search"), args.text.join(" "), { limit: args.limit });
        return {
          json: { hits },
          async human(out) {
            if (hits.length === 0) await out.line(`no packages match ${JSON.stringify(args.text.join(" "))}`);
            for (const h of hits) {
              const about = [h.title, h.description].filter((s): s is string => s !== null && s !== "").join(" — ");
              await out.line(about === "" ? out.colors.bold(h.package) : `${out.colors.bold(h.package)}  ${about}`);
              for (const p of h.matchedPaths.slice(0, 5)) await out.line(out.colors.dim(`    ${p}`));
              if (h.matchedPaths.length > 5)
                await out.line(out.colors.dim(`    … ${h.matchedPaths.length - 5} more paths`));
            }
          },
        };
      }),
  );
