// Bundles the `dpkg` command (dist/dpkg.js, which is what the bins run, plus dist/chunks/).
//
// Why: loading the CLI as ~250 separate ES modules (our packages, yargs, undici, typebox, ...) cost
// about 0.45 s of module resolution and compilation on every invocation here, more than a no-op
// `dpkg install` does; one bundle loads in a fraction of that. tsc still builds and type-checks
// dist/*.js (the library entry and the tests use those); this step only packs them for start-up.
//
// What a command does not need is not even parsed: every dynamic import() becomes a chunk loaded on
// first use (undici with the first request, typebox with the first answer to check, proper-lockfile
// with the workspace lock), and string-width, whose Unicode tables cost ~25 ms to build, runs only
// when yargs lays out a help text. Measured (vm.Script compile time of each module's part of the
// bundle): undici and typebox are ~19 ms of V8 compile time each, the rest of the bundle ~20 ms.
import { build } from "esbuild";
import { chmod, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const outdir = here("../dist");

/**
 * `import stringWidth from "string-width"` (in yargs, cliui, wrap-ansi) becomes a function that
 * require()s the real module on its first call. esbuild evaluates a require()d ES module lazily, so
 * its top level (an Intl.Segmenter and \p{RGI_Emoji} regular expressions) runs only for help text.
 */
const lazyStringWidth = {
  name: "lazy-string-width",
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === "real") return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "real" });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: "lazy-string-width" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-string-width" }, (args) => ({
      contents: `let real;\nexport default function stringWidth(text, options) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(text, options);\n}\n`,
      loader: "js",
      resolveDir: here("."),
    }));
  },
};

await rm(here("../dist/chunks"), { recursive: true, force: true });
await build({
  entryPoints: { dpkg: here("../dist/bin.js") },
  outdir,
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Loaded at run time from node_modules: a native addon, and a WebAssembly build read from its own folder.
  external: ["@c4312/blake3-native", "blake3-wasm"],
  plugins: [lazyStringWidth],
  // CommonJS dependencies (undici's, yargs' helpers) call require() for Node built-ins; an ES module
  // bundle has no `require` unless it makes one.
  banner: { js: "import { createRequire as __dpkgCreateRequire } from 'node:module';\nconst require = __dpkgCreateRequire(import.meta.url);" },
  legalComments: "linked",
  logLevel: "warning",
});
await chmod(here("../dist/dpkg.js"), 0o755);
