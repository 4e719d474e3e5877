import { ContentCache, DEFAULT_REGISTRY, defaultCacheDir, pickToken, RegistryClient, type TokenSource } from "@dpkg/client";
import { DpkgError } from "@dpkg/core";
import { colorsFor, type Colors, type Writable } from "./output.js";
import { createProgress, type Progress } from "./progress.js";

export { DEFAULT_REGISTRY };
export const DEFAULT_CONCURRENCY = 16;

/** Where the CLI reads and writes: the real process in bin.ts, anything in tests. */
export interface Io {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable & { columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The name the user typed: `dpkg` or `datapkg`. */
  program: string;
}

export interface GlobalOptions {
  registry?: string;
  token?: string;
  json: boolean;
  quiet: boolean;
  concurrency?: number;
}

/** What every command gets: resolved global options and lazily built dependencies. */
export interface Context {
  io: Io;
  cwd: string;
  env: NodeJS.ProcessEnv;
  registry: string;
  json: boolean;
  quiet: boolean;
  /** --concurrency; undefined leaves each library call its own default (transfers: 16). */
  concurrency: number | undefined;
  /** True when DPKG_OFFLINE asks to work from the cache alone. */
  offline: boolean;
  colors: Colors;
  /** The registry client; under DPKG_OFFLINE this fails with E_OFFLINE naming `what` needs the registry. */
  client(what: string): Promise<RegistryClient>;
  /** The client, or null under DPKG_OFFLINE (for commands that can work from the cache). */
  clientOrOffline(): Promise<RegistryClient | null>;
  tokenSource(): Promise<TokenSource>;
  cache(): ContentCache;
  /** Runs `work` with a progress line on stderr (a terminal's, unless --quiet or --json), taken off when it ends. */
  withProgress<T>(label: string, work: (progress: Progress) => Promise<T>): Promise<T>;
  /** A warning on stderr (suppressed by --quiet and --json). */
  warn(message: string): void;
  /** A human-facing note on stderr, e.g. what was done besides the result (suppressed likewise). */
  note(message: string): void;
  close(): Promise<void>;
}

export function createContext(io: Io, options: GlobalOptions): Context {
  const env = io.env;
  const registry = (options.registry ?? (env.DPKG_REGISTRY || DEFAULT_REGISTRY)).replace(/\/+$/, "");
  const concurrency = options.concurrency;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)) {
    throw new DpkgError(
      "E_USAGE",
      `--concurrency must be a whole number from 1 to 1024, got ${String(options.concurrency)}`,
    );
  }
  const offline = isTruthy(env.DPKG_OFFLINE);
  const quietStderr = options.quiet || options.json;
  let token: Promise<{ token?: string; source: TokenSource }> | undefined;
  let client: RegistryClient | undefined;
  let cache: ContentCache | undefined;
  const pick = (): Promise<{ token?: string; source: TokenSource }> =>
    (token ??= pickToken({ registry, flag: options.token, env }));
  const makeClient = async (): Promise<RegistryClient> => {
    if (client === undefined) {
      const { token: t } = await pick();
      client = new RegistryClient({ url: registry, token: t, connections: concurrency ?? DEFAULT_CONCURRENCY });
    }
    return client;
  };
  return {
    io,
    cwd: io.cwd,
    env,
    registry,
    json: options.json,
    quiet: options.quiet,
    concurrency,
    offline,
    colors: colorsFor(io.stdout, env),
    async client(what) {
      if (offline) {
        throw new DpkgError(
          "E_OFFLINE",
          `${what} needs the registry, and DPKG_OFFLINE is set`,
          {},
          { hint: "Unset DPKG_OFFLINE to reach the registry." },
        );
      }
      return makeClient();
    },
    async clientOrOffline() {
      return offline ? null : makeClient();
    },
    async tokenSource() {
      return (await pick()).source;
    },
    cache() {
      return (cache ??= new ContentCache(defaultCacheDir(env)));
    },
    async withProgress(label, work) {
      const progress = createProgress({ stream: io.stderr, label, enabled: io.stderr.isTTY === true && !quietStderr });
      try {
        return await work(progress);
      } finally {
        progress.done();
      }
    },
    warn(message) {
      if (!quietStderr) io.stderr.write(`${colorsFor(io.stderr, env).yellow("warning")}: ${message}\n`);
    },
    note(message) {
      if (!quietStderr) io.stderr.write(`${message}\n`);
    },
    async close() {
      await client?.close();
    },
  };
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}
