import { homedir } from "node:os";
import { join } from "node:path";

/** `DPKG_CACHE_DIR`, else `$XDG_CACHE_HOME/dpkg`, else `~/.cache/dpkg`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DPKG_CACHE_DIR !== undefined && env.DPKG_CACHE_DIR !== "") return env.DPKG_CACHE_DIR;
  // The XDG spec says a relative value is invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith("/")) return join(xdg, "dpkg");
  return join(env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir(), ".cache", "dpkg");
}
