import { diffRevisions, type EntryChange, type MetaChange } from "@dpkg/client";
import type { RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../format.js";
import type { Colors } from "../output.js";

export const diffCommand: RegisterCommand = (y, select) =>
  y.command(
    "diff <from> <to>",
    "Compare two revisions: added, removed and modified entries, and package metadata changes",
    (b) =>
      b
        .positional("from", { type: "string", demandOption: true, describe: "NAME@REF of the old revision" })
        .positional("to", {
          type: "string",
          demandOption: true,
          describe: "NAME@REF of the new one, or just REF in the same package",
        })
        .example("$0 diff mypkg/images@v1 mypkg/images@v2", "what changed from v1 to v2")
        .example("$0 diff mypkg/images@v1 latest", "from v1 to the latest revision")
        .example("$0 diff mypkg/images@blake3:0123abcd mypkg/images --json", "machine-readable, by digest prefix"),
    (args) =>
      select(async (ctx) => {
        const diff = await diffRevisions(await ctx.client("dpkg diff"), ctx.cache(), args.from, args.to);
        return {
          json: { from: diff.from, to: diff.to, meta: diff.meta, entries: diff.entries, totals: () => diff.totals() },
          async human(out) {
            const c = out.colors;
            await out.line(c.dim(`--- ${diff.from.name}@${diff.from.digest}`));
            await out.line(c.dim(`+++ ${diff.to.name}@${diff.to.digest}`));
            for (const m of diff.meta) await out.line(describeMeta(m, c));
            for await (const change of diff.entries) await out.line(describeEntry(change, c));
            const t = diff.totals();
            await out.line(
              `${t.added} added, ${t.removed} removed, ${t.modified} modified, ${t.unchanged} unchanged${diff.meta.length > 0 ? `; ${plural(diff.meta.length, "metadata key")} changed` : ""}`,
            );
          },
        };
      }),
  );

function describeEntry(change: EntryChange, c: Colors): string {
  switch (change.change) {
    case "added":
      return `${c.green("A")}  ${change.path}  ${c.dim(formatBytes(change.to.size))}`;
    case "removed":
      return `${c.red("D")}  ${change.path}`;
    case "modified": {
      const what: string[] = [];
      if (change.content) what.push(`content ${formatBytes(change.from.size)} → ${formatBytes(change.to.size)}`);
      if (change.metaKeys.length > 0) what.push(`meta ${change.metaKeys.join(", ")}`);
      return `${c.yellow("M")}  ${change.path}  ${c.dim(what.join("; "))}`;
    }
  }
}

function describeMeta(m: MetaChange, c: Colors): string {
  const show = (v: unknown): string => {
    const text = JSON.stringify(v) ?? "";
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  };
  if (m.from === undefined) return `${c.green("meta +")} ${m.key}: ${show(m.to)}`;
  if (m.to === undefined) return `${c.red("meta -")} ${m.key}: ${show(m.from)}`;
  return `${c.yellow("meta ~")} ${m.key}: ${show(m.from)} → ${show(m.to)}`;
}
