import type { Digest } from "@dpkg/core";

/** What anyone with `token` sees of a package's revisions, newest first; [] for a package that does not exist. */
export async function revisionDigests(url: string, token: string, pkg: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/packages/${pkg}/revisions`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`GET revisions of ${pkg}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { revisions: { digest: string }[] }).revisions.map((r) => r.digest);
}

/** Every entry of a revision as the registry lists it: path → digest. */
export async function entryDigests(
  url: string,
  token: string,
  pkg: string,
  digest: string,
): Promise<Map<string, Digest>> {
  const res = await fetch(`${url}/v1/packages/${pkg}/revisions/${digest}/entries?limit=1000000`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`GET entries of ${pkg}@${digest}: HTTP ${res.status} ${await res.text()}`);
  const out = new Map<string, Digest>();
  for (const line of (await res.text()).split("\n")) {
    if (line === "") continue;
    const e = JSON.parse(line) as { path: string; digest: Digest };
    out.set(e.path, e.digest);
  }
  return out;
}
