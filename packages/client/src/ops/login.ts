import { DpkgError, type api } from "@dpkg/core";
import { loadToken, removeCredentials, saveCredentials } from "../credentials.js";
import { RegistryClient } from "../registry-client.js";

export type TokenSource = "flag" | "env" | "saved" | "none";

export interface Identity extends api.WhoamiResponse {
  registry: string;
}

/**
 * Checks the token against the registry (a typo is caught now, not at the next push) and saves it
 * for that registry URL in the user's config folder, readable only by the user.
 */
export async function login(options: { registry: string; token: string; env?: NodeJS.ProcessEnv }): Promise<Identity> {
  const token = options.token.trim();
  if (token === "")
    throw new DpkgError(
      "E_USAGE",
      "the token is empty",
      {},
      { hint: "Pass it with --token or DPKG_TOKEN, or pipe it on stdin." },
    );
  const client = new RegistryClient({ url: options.registry, token });
  try {
    const me = await client.whoami();
    await saveCredentials(client.url, token, options.env);
    return { registry: client.url, ...me };
  } finally {
    await client.close();
  }
}

/** Forgets the saved token of a registry; `removed` is false when none was saved. */
export async function logout(options: {
  registry: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ registry: string; removed: boolean }> {
  const registry = normalizeRegistry(options.registry);
  return { registry, removed: await removeCredentials(registry, options.env) };
}

/** Who the registry takes the caller for. */
export async function whoami(client: RegistryClient): Promise<Identity> {
  return { registry: client.url, ...(await client.whoami()) };
}

/**
 * The token to use and where it came from: --token, then DPKG_TOKEN, then what `dpkg login` saved
 * for this registry. Empty strings count as absent, so `DPKG_TOKEN= dpkg ...` means anonymous.
 */
export async function pickToken(options: {
  registry: string;
  flag?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ token?: string; source: TokenSource }> {
  if (options.flag !== undefined && options.flag !== "") return { token: options.flag, source: "flag" };
  const env = options.env ?? process.env;
  const fromEnv = env.DPKG_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "") return { token: fromEnv, source: "env" };
  const saved = await loadToken(normalizeRegistry(options.registry), env);
  return saved === undefined ? { source: "none" } : { token: saved, source: "saved" };
}

/** Credentials are keyed by the URL as RegistryClient keeps it: without trailing slashes. */
export function normalizeRegistry(url: string): string {
  return url.replace(/\/+$/, "");
}
