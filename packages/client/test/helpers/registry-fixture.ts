import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { makeTempDir, type TempDir } from "../../../registry-server/test/helpers/temp-dir.js";
import { RegistryClient } from "../../src/registry-client.js";
import { startTestRegistryServer, type TestRegistryServer } from "./registry-server.js";

export interface RegistryFixture {
  readonly reg: TestRegistryServer;
  readonly client: RegistryClient;
  /** Fresh for every test. */
  readonly tmp: TempDir;
  /** `<tmp>/data`, made empty for every test. */
  readonly dir: string;
}

/**
 * Call inside a describe: one listening test registry and a client for all its tests, and a fresh
 * temp folder for each test, all closed and removed afterwards.
 */
export function useRegistryAndFolder(label: string): RegistryFixture {
  let reg: TestRegistryServer | undefined;
  let client: RegistryClient | undefined;
  let tmp: TempDir | undefined;
  beforeAll(async () => {
    reg = await startTestRegistryServer();
    client = new RegistryClient({ url: reg.url, token: reg.token });
  });
  afterAll(async () => {
    await client?.close();
    await reg?.close();
  });
  beforeEach(async () => {
    tmp = await makeTempDir(label);
    await mkdir(join(tmp.path, "data"));
  });
  afterEach(async () => tmp?.cleanup());
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is only there inside a test`);
    return value;
  };
  return {
    get reg() {
      return ready(reg, "the registry");
    },
    get client() {
      return ready(client, "the client");
    },
    get tmp() {
      return ready(tmp, "the temp folder");
    },
    get dir() {
      return join(ready(tmp, "the temp folder").path, "data");
    },
  };
}
