import { DpkgError, isValidPackagePart } from "@dpkg/core";
import type { Argv } from "yargs";
import { resolveConfig, type RawOptions } from "../config.js";
import type { Scope } from "../metadata/metadata-store.js";
import { openRegistry } from "../open-registry.js";
import { generateTokenSecret, hashTokenSecret, newTokenId } from "../tokens.js";

/** `admin`, `read:PATTERN` or `write:PATTERN` (PATTERN: a namespace, or a glob like `lab-*` or `*`). */
export function parseScope(text: string): Scope {
  if (text === "admin") return { kind: "admin" };
  const m = /^(read|write):(.+)$/.exec(text);
  if (m === null || !/^(\*|[a-z0-9*][a-z0-9._*-]{0,63})$/.test(m[2]!)) {
    throw new DpkgError("E_USAGE", `scope ${JSON.stringify(text)} is not admin, read:PATTERN or write:PATTERN (e.g. write:mylab, read:lab-*)`);
  }
  return { kind: m[1] as "read" | "write", pattern: m[2]! };
}

export function formatScope(s: Scope): string {
  return s.kind === "admin" ? "admin" : `${s.kind}:${s.pattern}`;
}

export function tokenCommand(y: Argv<RawOptions>): Argv<RawOptions> {
  return y
    .command(
      "create",
      "create a token and print its secret (shown once; only its hash is stored)",
      (c) =>
        c
          .option("name", { type: "string", demandOption: true, describe: "who or what the token is for" })
          .option("scope", { type: "string", array: true, demandOption: true, describe: "admin | read:PATTERN | write:PATTERN (repeatable)" })
          .example("$0 token create --name ci --scope write:mylab", "a token that can push to namespace mylab")
          .example("$0 token create --name viewer --scope 'read:lab-*'", "read every lab-* namespace"),
      async (args) => {
        const scopes = args.scope.map(parseScope);
        const registry = await openRegistry(resolveConfig(args));
        try {
          const secret = generateTokenSecret();
          const id = newTokenId();
          await registry.meta.createToken({ id, name: args.name, hash: hashTokenSecret(secret), scopes, createdAt: new Date() });
          process.stderr.write(`created token ${id} "${args.name}" (${scopes.map(formatScope).join(", ")}); its secret:\n`);
          process.stdout.write(secret + "\n");
        } finally {
          await registry.close();
        }
      },
    )
    .command(
      "list",
      "list tokens (never their secrets)",
      (c) => c,
      async (args) => {
        const registry = await openRegistry(resolveConfig(args));
        try {
          for (const t of await registry.meta.listTokens()) {
            process.stdout.write(
              `${t.id}  ${t.name}  ${t.scopes.map(formatScope).join(",")}  created ${t.createdAt.toISOString()}  last used ${t.lastUsedAt?.toISOString() ?? "never"}\n`,
            );
          }
        } finally {
          await registry.close();
        }
      },
    )
    .command(
      "revoke <id>",
      "revoke a token at once",
      (c) => c.positional("id", { type: "string", demandOption: true }),
      async (args) => {
        const registry = await openRegistry(resolveConfig(args));
        try {
          if (!(await registry.meta.revokeToken(args.id))) throw new DpkgError("E_NOT_FOUND", `no token with id ${args.id}`);
          process.stderr.write(`revoked token ${args.id}\n`);
        } finally {
          await registry.close();
        }
      },
    )
    .demandCommand(1, "name a token command: create, list or revoke");
}

export function namespaceCommand(y: Argv<RawOptions>): Argv<RawOptions> {
  return y
    .command(
      "public <namespace>",
      "let anyone read a namespace (--no-public to make it private again)",
      (c) =>
        c
          .positional("namespace", { type: "string", demandOption: true })
          .option("public", { type: "boolean", default: true, describe: "public read on or off" }),
      async (args) => {
        if (!isValidPackagePart(args.namespace)) throw new DpkgError("E_BAD_NAME", `${JSON.stringify(args.namespace)} is not a namespace`);
        const registry = await openRegistry(resolveConfig(args));
        try {
          await registry.meta.setNamespacePublic(args.namespace, args.public);
          process.stderr.write(`namespace ${args.namespace} is now ${args.public ? "public" : "private"}\n`);
        } finally {
          await registry.close();
        }
      },
    )
    .demandCommand(1, "name a namespace command: public");
}
