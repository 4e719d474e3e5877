import { login, logout, whoami, type Identity } from "@dpkg/client";
import { DpkgError, type api } from "@dpkg/core";
import type { RegisterCommand } from "../command.js";
import type { Context } from "../context.js";
import type { Printer } from "../output.js";

export const loginCommand: RegisterCommand = (y, select) =>
  y.command(
    "login",
    "Check a token against the registry and save it for that registry (in $XDG_CONFIG_HOME/dpkg, mode 0600)",
    (b) =>
      b
        .example("$0 login --registry https://data.example.org --token dpkg_xxx", "save a token for a registry")
        .example(
          'echo "$TOKEN" | $0 login --registry https://data.example.org',
          "read the token from stdin, out of shell history",
        ),
    (args) =>
      select(async (ctx) => {
        const token = args.token ?? (ctx.env.DPKG_TOKEN || (await readTokenFromStdin(ctx)));
        const me = await login({ registry: ctx.registry, token, env: ctx.env });
        return { json: me, human: (out) => describeIdentity(out, me, `logged in to ${me.registry} as`) };
      }),
  );

export const logoutCommand: RegisterCommand = (y, select) =>
  y.command(
    "logout",
    "Forget the token saved for the registry",
    (b) => b.example("$0 logout --registry https://data.example.org", "remove the saved token of that registry"),
    () =>
      select(async (ctx) => {
        const result = await logout({ registry: ctx.registry, env: ctx.env });
        return {
          json: result,
          human: (out) =>
            out.line(result.removed ? `logged out of ${result.registry}` : `no token was saved for ${result.registry}`),
        };
      }),
  );

export const whoamiCommand: RegisterCommand = (y, select) =>
  y.command(
    "whoami",
    "Show the name and permissions of the token in use, and where it came from",
    (b) => b.example("$0 whoami", "who the default registry takes you for").example("$0 whoami --json", "as JSON"),
    () =>
      select(async (ctx) => {
        const me = await whoami(await ctx.client("dpkg whoami"));
        const source = await ctx.tokenSource();
        const result = { ...me, tokenSource: source };
        return {
          json: result,
          human: (out) => describeIdentity(out, me, `${me.registry}:`, `token from ${SOURCE_TEXT[source]}`),
        };
      }),
  );

const SOURCE_TEXT = { flag: "--token", env: "DPKG_TOKEN", saved: "dpkg login", none: "nowhere" } as const;

async function describeIdentity(out: Printer, me: Identity, lead: string, extra?: string): Promise<void> {
  await out.line(`${lead} ${out.colors.bold(me.name)}`);
  await out.line(`  scopes: ${me.scopes.map(formatScope).join(", ")}`);
  if (extra !== undefined) await out.line(out.colors.dim(`  ${extra}`));
}

function formatScope(s: api.Scope): string {
  return s.kind === "admin" ? "admin" : `${s.kind}:${s.pattern}`;
}

/** A piped token (`echo $T | dpkg login`) keeps it out of shell history and process listings. */
async function readTokenFromStdin(ctx: Context): Promise<string> {
  const stdin = ctx.io.stdin;
  if (stdin.isTTY === true) {
    throw new DpkgError(
      "E_USAGE",
      "dpkg login needs a token",
      {},
      { hint: 'Pass --token T, set DPKG_TOKEN, or pipe it: echo "$TOKEN" | dpkg login' },
    );
  }
  let text = "";
  for await (const chunk of stdin)
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
  return text.trim();
}
