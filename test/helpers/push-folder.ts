import { push, RegistryClient, type PushReport } from "@dpkg/client";
import { parsePackageName } from "@dpkg/core";

/** Pushes a folder in this process with the client library (what `dpkg push` runs), for test setup. */
export async function pushFolder(
  url: string,
  token: string,
  dir: string,
  pkg: string,
  options: { message?: string; tags?: string[] } = {},
): Promise<PushReport> {
  const client = new RegistryClient({ url, token });
  try {
    return await push({ client, dir, pkg: parsePackageName(pkg), ...options });
  } finally {
    await client.close();
  }
}
