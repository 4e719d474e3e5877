import { DpkgError, isDpkgError, type ErrorCode } from "@dpkg/core";
import { writeJson } from "./json-writer.js";

/** What a command hands back: a JSON document, a human rendering of the same data, or raw bytes. */
export type Outcome =
  | {
      /** The --json document; may hold AsyncIterables (written as arrays) and thunks (called when reached). */
      json: unknown;
      human: (out: Printer) => Promise<void> | void;
      /** Printed after the output as the command's failure (e.g. verify found mismatches): exit 1. */
      failure?: DpkgError;
    }
  | { raw: AsyncIterable<Uint8Array> };

export interface Colors {
  enabled: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/**
 * Color only where a human reads it: a TTY (or FORCE_COLOR), and never when NO_COLOR is set to
 * anything non-empty (https://no-color.org), which wins over FORCE_COLOR.
 */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  const enabled = !(env.NO_COLOR ?? "") && (stream.isTTY === true || !!(env.FORCE_COLOR ?? "")) && env.TERM !== "dumb";
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return { enabled, red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export interface Printer {
  colors: Colors;
  /** Writes one line to stdout, waiting when the pipe is full, so huge listings keep memory flat. */
  line(text?: string): Promise<void>;
}

export interface Writable {
  write(chunk: string | Uint8Array): boolean;
  once(event: "drain", listener: () => void): unknown;
  isTTY?: boolean;
}

export async function write(stream: Writable, chunk: string | Uint8Array): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once("drain", resolve));
}

/** Gathers small writes into chunks of ~16 KiB: a write per listed entry would cost a syscall each. */
export function buffered(stream: Writable): { write: (text: string) => Promise<void>; flush: () => Promise<void> } {
  let pending = "";
  const flush = async (): Promise<void> => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    await write(stream, text);
  };
  const add = async (text: string): Promise<void> => {
    pending += text;
    if (pending.length >= 16 * 1024) await flush();
  };
  return { write: add, flush };
}

/** Writes a command's outcome; returns the failure to report, if any. */
export async function emit(
  outcome: Outcome,
  options: { json: boolean; stdout: Writable; colors: Colors },
): Promise<DpkgError | undefined> {
  if ("raw" in outcome) {
    for await (const chunk of outcome.raw) await write(options.stdout, chunk);
    return undefined;
  }
  const out = buffered(options.stdout);
  if (options.json) {
    // Small documents are written whole or not at all, so a failure leaves only the error object.
    await writeJson(outcome.json, out.write);
    await out.write("\n");
    await out.flush();
    return outcome.failure;
  }
  try {
    await outcome.human({ colors: options.colors, line: (text = "") => out.write(text + "\n") });
  } finally {
    // What was rendered before a failure is still shown (e.g. the entries listed before a lost connection).
    await out.flush();
  }
  return outcome.failure;
}

/** Anything thrown, as the DpkgError the user sees; file-system errors keep their path. */
export function toDpkgError(err: unknown): DpkgError {
  if (isDpkgError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code) && e.syscall !== undefined) {
    const where = e.path === undefined ? "" : ` ${e.path}`;
    return new DpkgError("E_IO", `${e.syscall}${where}: ${e.code}`, { path: e.path, errno: e.code }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DpkgError(
    "E_INTERNAL",
    `unexpected error: ${message}`,
    {},
    { cause: err, hint: "This is a bug in dpkg; run with DPKG_DEBUG=1 for the stack trace and report it." },
  );
}

export const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(["E_USAGE"]);

export function exitCodeOf(err: DpkgError): number {
  return USAGE_CODES.has(err.code) ? 2 : 1;
}

/** `dpkg: E_CODE: message` and `hint: ...`, on stderr; the JSON error object on stdout under --json. */
export async function reportError(
  err: DpkgError,
  options: { json: boolean; program: string; stdout: Writable; stderr: Writable; colors: Colors; debug: boolean },
): Promise<void> {
  if (options.json) {
    await write(options.stdout, JSON.stringify(err.toJSON()) + "\n");
    return;
  }
  const c = options.colors;
  const message = err.message.replace(/\s*\n\s*/g, " ");
  let text = `${c.red(`${options.program}: ${err.code}`)}: ${message}\n${c.dim(`hint: ${err.hint}`)}\n`;
  if (options.debug && err.cause instanceof Error && err.cause.stack !== undefined) text += err.cause.stack + "\n";
  await write(options.stderr, text);
}
