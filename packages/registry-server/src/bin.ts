#!/usr/bin/env node
import { DpkgError, isDpkgError } from "@dpkg/core";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { resolveConfig, type RawOptions } from "./config.js";
import { gcCommand, reindexCommand, verifyCommand } from "./commands/lifecycle.js";
import { serve } from "./commands/serve.js";
import { namespaceCommand, tokenCommand } from "./commands/tokens.js";

function storeOptions<T>(y: Argv<T>): Argv<T & RawOptions> {
  return y
    .option("data", { type: "string", describe: "data folder: SQLite index, secrets, blobs (without S3) [env DPKG_REGISTRY_DATA]" })
    .option("s3-bucket", { type: "string", describe: "keep blobs in this S3 bucket [env DPKG_S3_BUCKET]" })
    .option("s3-prefix", { type: "string", describe: "key prefix inside the bucket [env DPKG_S3_PREFIX]" })
    .option("s3-endpoint", { type: "string", describe: "S3-compatible endpoint, e.g. http://127.0.0.1:9000 [env DPKG_S3_ENDPOINT]" })
    .option("s3-region", { type: "string", describe: "S3 region [env DPKG_S3_REGION]" })
    .option("s3-force-path-style", { type: "boolean", describe: "bucket in the path (default: on with --s3-endpoint)" })
    .option("log-level", { type: "string", describe: "fatal, error, warn, info, debug [env DPKG_LOG_LEVEL]" });
}

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName("dpkg-registry")
    .usage("$0 <command>\n\nThe dpkg registry: metadata index in SQLite, blobs in a folder or S3.")
    .command(
      "serve",
      "run the registry (embedded defaults: 127.0.0.1:7777, everything under ./.dpkg-registry/)",
      (y) =>
        storeOptions(y)
          .option("host", { type: "string", describe: "address to listen on [env DPKG_REGISTRY_HOST]" })
          .option("port", { type: "number", describe: "port (0 picks a free one) [env DPKG_REGISTRY_PORT]" })
          .option("max-manifest-bytes", { type: "number", describe: "refuse larger manifests (default 2 GiB) [env DPKG_MAX_MANIFEST_BYTES]" })
          .example("$0 serve", "embedded defaults, no configuration")
          .example("$0 serve --s3-bucket data --s3-endpoint http://127.0.0.1:9000", "blobs in an S3-compatible store"),
      (args) => serve(resolveConfig(args)),
    )
    .command(
      "reindex",
      "rebuild the index from the bucket alone (the old index is kept beside it)",
      (y) => storeOptions(y).example("$0 reindex --data /srv/dpkg", "after losing or corrupting index.sqlite"),
      (args) => reindexCommand(resolveConfig(args)),
    )
    .command(
      "gc",
      "delete blobs and packs no revision references (dry run unless --delete)",
      (y) =>
        storeOptions(y)
          .option("grace", { type: "string", default: "24h", describe: "keep anything younger than this (uploads in progress)" })
          .option("delete", { type: "boolean", default: false, describe: "really delete (default: only report)" })
          .example("$0 gc", "report what would be deleted")
          .example("$0 gc --delete --grace 48h", "delete garbage older than two days"),
      (args) => gcCommand(resolveConfig(args), { grace: args.grace, delete: args.delete }),
    )
    .command(
      "verify",
      "re-hash every stored blob, pack and manifest and report any that do not match their digest",
      (y) => storeOptions(y).example("$0 verify", "scrub the store; exits 1 if anything is damaged"),
      (args) => verifyCommand(resolveConfig(args)),
    )
    .command("token", "create, list and revoke access tokens", (y) => tokenCommand(storeOptions(y)))
    .command("namespace", "namespace settings", (y) => namespaceCommand(storeOptions(y)))
    .demandCommand(1, "name a command: serve, reindex, gc, verify, token or namespace")
    .strict()
    .help()
    .fail((msg, err) => {
      throw err ?? new DpkgError("E_USAGE", msg);
    })
    .parseAsync();
}

main().catch((err: unknown) => {
  if (isDpkgError(err)) {
    process.stderr.write(`dpkg-registry: ${err.code}: ${err.message}\n  hint: ${err.hint}\n`);
    process.exitCode = err.code === "E_USAGE" ? 2 : 1;
  } else {
    process.stderr.write(`dpkg-registry: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
});
