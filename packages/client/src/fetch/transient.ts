import { DpkgError } from "@dpkg/core";

const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);

/** Errors worth another attempt: a dropped or truncated transfer, an overloaded store. */
export function isTransient(err: unknown): boolean {
  if (err instanceof DpkgError) return err.code === "E_NETWORK" || err.code === "E_UNAVAILABLE";
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code.startsWith("UND_ERR") || NETWORK_CODES.has(code);
  // undici reports a body cut off mid-stream as a plain "terminated" error.
  return err instanceof Error && err.message === "terminated";
}

/** An expired or rejected signed URL: asking for locations again gives fresh ones. */
export function isUrlRejected(err: unknown): boolean {
  return err instanceof DpkgError && (err.code === "E_FORBIDDEN" || err.code === "E_UNAUTHORIZED");
}

/** Exponential backoff with jitter: ~200 ms, 400 ms, 800 ms, … capped at 5 s. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Turns an error of a transfer into a DpkgError (network → E_NETWORK, filesystem → E_IO), so callers see one catalog. */
export function asDpkgError(err: unknown, what: string): unknown {
  if (err instanceof DpkgError) return err;
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (isTransient(err)) return new DpkgError("E_NETWORK", message, {}, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return new DpkgError("E_IO", message, { errno: code }, { cause: err });
  return err; // a bug, not a user-facing condition: keep its stack as it is
}
