import { digestBytes, type Digest } from "@dpkg/core";
import { file, manifestOf, tarOf, type TestFile } from "../../packages/registry-server/test/helpers/push-data.js";

export { file, type TestFile };

/** Pushes files the way a client does, over real HTTP: missing → tar of blobs → commit. */
export async function pushOverHttp(
  url: string,
  token: string,
  pkg: string,
  files: TestFile[],
  options: { message?: string; meta?: Record<string, string> } = {},
): Promise<{ digest: Digest; status: number; body: unknown }> {
  const auth = { authorization: `Bearer ${token}` };
  const digests = files.map((f) => digestBytes(f.bytes));
  const missing = await fetch(`${url}/v1/packages/${pkg}/blobs/missing`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ digests }),
  });
  if (missing.status !== 200) return { digest: digests[0]!, status: missing.status, body: await missing.json() };
  const wanted = new Set((await missing.json() as { missing: string[] }).missing);
  const tar = await tarOf(files.filter((f) => wanted.has(digestBytes(f.bytes))).map((f) => f.bytes));
  const up = await fetch(`${url}/v1/packages/${pkg}/blobs/pack`, { method: "PUT", headers: { ...auth, "content-type": "application/x-tar" }, body: tar });
  if (up.status !== 200) return { digest: digests[0]!, status: up.status, body: await up.json() };
  const m = await manifestOf(files, options.meta ?? {});
  const q = new URLSearchParams({ digest: m.digest, message: options.message ?? "" });
  const commit = await fetch(`${url}/v1/packages/${pkg}/revisions?${q.toString()}`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/x-dpkg-manifest+jsonl" },
    body: m.body,
  });
  return { digest: m.digest, status: commit.status, body: await commit.json() };
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}
