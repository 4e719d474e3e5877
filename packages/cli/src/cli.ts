import { DpkgError, ERROR_CATALOG } from "@dpkg/core";
import { createRequire } from "node:module";
import yargs, { type Argv } from "yargs";
import type { GlobalArgs, RegisterCommand, Run } from "./command.js";
import { cacheCommand } from "./commands/cache.js";
import { catCommand } from "./commands/cat.js";
import { diffCommand } from "./commands/diff.js";
import { installCommand } from "./commands/install.js";
import { loginCommand, logoutCommand, whoamiCommand } from "./commands/login.js";
import { logCommand } from "./commands/log.js";
import { lsCommand } from "./commands/ls.js";
import { pushCommand } from "./commands/push.js";
import { searchCommand } from "./commands/search.js";
import { tagCommand } from "./commands/tag.js";
import { updateCommand } from "./commands/update.js";
import { verifyCommand } from "./commands/verify.js";
import { createContext, DEFAULT_REGISTRY, type Context, type Io } from "./context.js";
import { colorsFor, emit, exitCodeOf, reportError, toDpkgError } from "./output.js";

const COMMANDS: readonly RegisterCommand[] = [
  pushCommand,
  installCommand,
  updateCommand,
  lsCommand,
  catCommand,
  diffCommand,
  logCommand,
  tagCommand,
  searchCommand,
  verifyCommand,
  cacheCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
];

const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

/** Runs one dpkg invocation and returns its exit code: 0 ok, 1 failure, 2 usage error. */
export async function runCli(io: Io): Promise<number> {
  const json = wantsJson(io.argv);
  const errorOutput = {
    json,
    program: io.program,
    stdout: io.stdout,
    stderr: io.stderr,
    colors: colorsFor(io.stderr, io.env),
    debug: !!io.env.DPKG_DEBUG,
  };
  let ctx: Context | undefined;
  try {
    let selected: Run | undefined;
    const args = await parser(io, (run) => {
      selected = run;
    }).parseAsync();
    if (selected === undefined) return 0; // --help or --version was shown
    ctx = createContext(io, {
      registry: args.registry,
      token: args.token,
      json: args.json,
      quiet: args.quiet,
      concurrency: args.concurrency,
    });
    const outcome = await selected(ctx);
    const failure = await emit(outcome, { json: ctx.json, stdout: io.stdout, colors: ctx.colors });
    if (failure === undefined) return 0;
    // Under --json the document already says what failed (e.g. verify's report): no second document.
    if (!json) await reportError(failure, errorOutput);
    return exitCodeOf(failure);
  } catch (err) {
    const error = withCommandHint(toDpkgError(err), io);
    await reportError(error, errorOutput);
    if (errorOutput.debug && error.code === "E_INTERNAL" && err instanceof Error)
      io.stderr.write(`${err.stack ?? ""}\n`);
    return exitCodeOf(error);
  } finally {
    await ctx?.close();
  }
}

function parser(io: Io, select: (run: Run) => void): Argv<GlobalArgs> {
  let y: Argv<GlobalArgs> = yargs(io.argv)
    .scriptName(io.program)
    .locale("en")
    .usage(
      "$0 <command> [options]\n\nVersioned data packages: push a folder as an immutable revision, install all or a slice of it, pinned in dpkg.lock.",
    )
    .option("registry", {
      type: "string",
      global: true,
      describe: `registry URL [env DPKG_REGISTRY; default ${DEFAULT_REGISTRY}]`,
    })
    .option("token", {
      type: "string",
      global: true,
      describe: "access token [env DPKG_TOKEN; else the one saved by 'dpkg login']",
    })
    .option("json", {
      type: "boolean",
      global: true,
      default: false,
      describe: "print one JSON document on stdout (errors too)",
    })
    .option("quiet", {
      alias: "q",
      type: "boolean",
      global: true,
      default: false,
      describe: "no progress, notes or warnings on stderr",
    })
    .option("concurrency", {
      type: "number",
      global: true,
      describe: "parallel transfers and file operations (default 16)",
    })
    .group(["registry", "token", "json", "quiet", "concurrency", "help", "version"], "Global options:")
    .strict()
    .demandCommand(1, `give a command: ${io.program} --help lists them`)
    .recommendCommands()
    .exitProcess(false)
    .fail((message: string | null, err: Error | undefined) => {
      throw err ?? usageError(message ?? "invalid arguments", io);
    })
    .help()
    .alias("help", "h")
    .version(VERSION)
    .wrap(Math.min(110, io.stderr.columns ?? 100))
    .epilogue(
      "Run '$0 <command> --help' for a command's options and examples. Environment: DPKG_REGISTRY, DPKG_TOKEN, DPKG_CACHE_DIR, DPKG_OFFLINE, NO_COLOR.",
    );
  y = y
    .example("$0 push ./images mypkg/images -m 'first import'", "push a folder")
    .example("$0 install mypkg/images --path 'train/**'", "install a slice");
  for (const register of COMMANDS) y = register(y, select);
  if (!io.argv.includes("--help") && !io.argv.includes("-h")) skipHelpCaching(y);
  return y;
}

/**
 * yargs lays out the whole help text after every command it runs (cacheHelpMessage), to show it should
 * an async handler fail later. Our handlers only pick the command (the run comes after parsing) and
 * failures print a one-line message with a hint, so that text is never shown; laying it out cost
 * 20-40 ms of every run. The hook is yargs-internal: when it is not there, nothing changes.
 */
function skipHelpCaching(y: Argv<GlobalArgs>): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (y as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === "function") usage.cacheHelpMessage = () => undefined;
}

/** Commands that only group subcommands: a usage error names the subcommand word. */
const GROUPS = new Set(["cache"]);

function usageError(message: string, io: Io): DpkgError {
  const { argv, program } = io;
  const words = argv.filter((a) => !a.startsWith("-"));
  const command =
    words[0] !== undefined && GROUPS.has(words[0]) && words[1] !== undefined ? `${words[0]} ${words[1]}` : words[0];
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  const suggestion = /^Did you mean (.+)\?$/.exec(message);
  let text = message;
  // yargs reports an unknown command as an unknown argument, or only as its suggestion; say what it is.
  if (command !== undefined && (suggestion !== null || unknown?.[1]?.split(", ")[0] === command.split(" ").pop())) {
    text = `unknown command ${JSON.stringify(command)}${suggestion === null ? "" : `; did you mean ${JSON.stringify(suggestion[1])}?`}`;
  }
  const counts = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(message);
  if (counts !== null && command !== undefined) {
    text = `${program} ${command} is missing arguments: it takes at least ${counts[2]}, got ${counts[1]}`;
  }
  const general = command === undefined || text.startsWith("unknown command");
  const parent = command?.includes(" ") ? `${program} ${command.split(" ")[0]}` : program;
  const hint = general
    ? `Run '${parent} --help' for the commands and examples.`
    : `Run '${program} ${command} --help' for its options and examples.`;
  return new DpkgError("E_USAGE", text, { argv: [...argv] }, { hint });
}

/** A library's E_USAGE carries the catalog's generic hint; name the command whose --help helps. */
function withCommandHint(error: DpkgError, io: Io): DpkgError {
  const { argv, program } = io;
  if (error.code !== "E_USAGE" || error.hint !== ERROR_CATALOG.E_USAGE.hint) return error;
  const words = argv.filter((a) => !a.startsWith("-"));
  const command = words[0] !== undefined && GROUPS.has(words[0]) ? words.slice(0, 2).join(" ") : words[0];
  if (command === undefined) return error;
  return new DpkgError(error.code, error.message, error.details, {
    cause: error.cause,
    hint: `Run '${program} ${command} --help' for its options and examples.`,
  });
}

/** --json decides the shape of errors too, even those found before yargs could parse anything. */
function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "--json" || a === "--json=true") return true;
  }
  return false;
}
