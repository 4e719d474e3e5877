import { DpkgError } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Tokens saved by `dpkg login`, one per registry URL, in `<configDir>/credentials.json`:
 * `{"registries": {"<url>": {"token": "..."}}}`. The folder is 0700 and the file 0600, and the file
 * is replaced atomically, so a reader never sees half a file and a crash never loses the old one.
 */
interface CredentialsFile {
  registries: Record<string, { token: string }>;
}

/** `$XDG_CONFIG_HOME/dpkg`, else `~/.config/dpkg`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith("/")) return join(xdg, "dpkg");
  return join(env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir(), ".config", "dpkg");
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "credentials.json");
}

export async function saveCredentials(registry: string, token: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = await readCredentials(env);
  file.registries[keyOf(registry)] = { token };
  await writeCredentials(file, env);
}

/** Forgets a registry's token; false when none was saved. */
export async function removeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const file = await readCredentials(env);
  const key = keyOf(registry);
  if (!Object.hasOwn(file.registries, key)) return false;
  delete file.registries[key];
  await writeCredentials(file, env);
  return true;
}

export async function loadToken(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const file = await readCredentials(env);
  const key = keyOf(registry);
  return Object.hasOwn(file.registries, key) ? file.registries[key]?.token : undefined;
}

/** Keyed as RegistryClient keeps its URL: without trailing slashes. */
function keyOf(registry: string): string {
  return registry.replace(/\/+$/, "");
}

async function readCredentials(env: NodeJS.ProcessEnv): Promise<CredentialsFile> {
  const path = credentialsFile(env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { registries: {} };
    throw new DpkgError("E_IO", `cannot read ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  const fail = (why: string): never => {
    throw new DpkgError("E_BAD_JSON", `${path}: ${why}`, { path }, { hint: `Fix or delete ${path}, then run 'dpkg login' again.` });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${(err as Error).message})`);
  }
  const registries = (parsed as { registries?: unknown } | null)?.registries;
  if (typeof registries !== "object" || registries === null || Array.isArray(registries)) {
    return fail('expected {"registries": {"<url>": {"token": "..."}}}');
  }
  const out: CredentialsFile = { registries: {} };
  for (const [url, value] of Object.entries(registries as Record<string, unknown>)) {
    const token = (value as { token?: unknown } | null)?.token;
    if (typeof token !== "string") return fail(`registries[${JSON.stringify(url)}].token is not a string`);
    out.registries[url] = { token };
  }
  return out;
}

async function writeCredentials(file: CredentialsFile, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = configDir(env);
  const path = credentialsFile(env);
  const temp = join(dir, `.credentials.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode does not apply to a folder that already existed, nor past the umask.
    await chmod(dir, 0o700);
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(JSON.stringify(file, null, 2) + "\n");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new DpkgError("E_IO", `cannot write ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}
