// Bundles the `dpkg` command into one file (dist/dpkg.js), which is what the bins run.
//
// Why: loading the CLI as ~250 separate ES modules (our packages, yargs, undici, typebox, ...) cost
// about 0.45 s of module resolution and compilation on every invocation here, more than a no-op
// `dpkg install` does; one bundle loads in a fraction of that. tsc still builds and type-checks
// dist/*.js (the library entry and the tests use those); this step only packs them for start-up.
import { build } from "esbuild";
import { chmod } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const outfile = here("../dist/dpkg.js");

await build({
  entryPoints: [here("../dist/bin.js")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Loaded at run time from node_modules: a native addon, and a WebAssembly build read from its own folder.
  external: ["@c4312/blake3-native", "blake3-wasm"],
  // CommonJS dependencies (undici's, yargs' helpers) call require() for Node built-ins; an ES module
  // bundle has no `require` unless it makes one.
  banner: { js: "import { createRequire as __dpkgCreateRequire } from 'node:module';\nconst require = __dpkgCreateRequire(import.meta.url);" },
  legalComments: "linked",
  logLevel: "warning",
});
await chmod(outfile, 0o755);
