// Module hooks that let a plain Node child process import the TypeScript sources the way vitest
// does: `@dpkg/core` resolves to core's src, a `.js` import finds its `.ts` file, and TypeScript is
// stripped with the compiler's own transpileModule (types only; no type checking).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = new URL("../../../../../", import.meta.url);
const aliases = new Map([["@dpkg/core", new URL("packages/core/src/index.ts", root).href]]);

export function resolve(specifier, context, next) {
  const alias = aliases.get(specifier);
  if (alias !== undefined) return { url: alias, shortCircuit: true };
  if (specifier.endsWith(".js") && /^\.\.?\//.test(specifier) && context.parentURL !== undefined) {
    const asTs = new URL(specifier.slice(0, -3) + ".ts", context.parentURL);
    if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(asTs)) {
      return { url: asTs.href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  const fileName = fileURLToPath(url);
  const { outputText } = ts.transpileModule(await readFile(fileName, "utf8"), {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  });
  return { format: "module", source: outputText, shortCircuit: true };
}
