import type { api } from "@dpkg/core";
import { startTestRegistry } from "../../../registry-server/test/helpers/test-registry.js";

export interface TestRegistryServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** An admin token. */
  token: string;
  /** The registry's data folder; with the "fs" store its blobs live under `<dataDir>/blobs`. */
  dataDir: string;
  /** A new token with these scopes, e.g. [{ kind: "read", pattern: "lab" }]. */
  tokenFor(scopes: api.Scope[]): Promise<string>;
  close(): Promise<void>;
}

export interface TestRegistryServerOptions {
  store?: "fs" | "s3";
  /** Small blobs are packed up to this many bytes per pack (default 1 MiB, so tests see several packs). */
  packBytes?: number;
  /** Blobs at or above this size are stored alone (default 4 MiB, as in production). */
  largeBlobBytes?: number;
}

const MIB = 1024 * 1024;

/**
 * The registry-server tests' registry (SQLite index and a folder blob store in a temp dir, or a fresh
 * bucket of the run's s3rver: needs the global setup of the vitest project), listening on a free port
 * of 127.0.0.1 for a real client, with production-like sizes: 4 MiB large blobs, 16 MiB JSON bodies.
 */
export async function startTestRegistryServer(options: TestRegistryServerOptions = {}): Promise<TestRegistryServer> {
  const registry = await startTestRegistry({
    store: options.store,
    packBytes: options.packBytes ?? MIB,
    largeBlobBytes: options.largeBlobBytes ?? 4 * MIB,
    jsonBodyLimit: 16 * MIB,
  });
  await registry.app.listen({ port: 0, host: "127.0.0.1" });
  const address = registry.app.server.address();
  if (address === null || typeof address === "string") throw new Error("the test registry has no TCP address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    token: registry.adminToken,
    dataDir: registry.dir,
    tokenFor: (scopes) => registry.token(scopes),
    close: () => registry.close(),
  };
}
