import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// Workspace packages resolve to their TypeScript sources in tests, so tests never run against a stale dist/.
// A subpath (`@dpkg/core/api`) is the source file of that name, as the packages' "source" exports say.
const resolve = {
  alias: ["core", "registry-server", "client", "cli"].flatMap((p) => [
    { find: new RegExp(`^@dpkg/${p}$`), replacement: `${root}/packages/${p}/src/index.ts` },
    { find: new RegExp(`^@dpkg/${p}/(.+)$`), replacement: `${root}/packages/${p}/src/$1.ts` },
  ]),
};
const pkg = (name: string) => ({
  resolve,
  // Timeouts are per project: projects do not inherit the root's.
  test: { name, root: `${root}/packages/${name}`, include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});

export default defineConfig({
  test: {
    projects: [
      pkg("core"),
      // One s3rver for the whole run, started by the global setup; test files each make their own bucket.
      {
        ...pkg("registry-server"),
        test: { ...pkg("registry-server").test, globalSetup: [`${root}/packages/registry-server/test/helpers/global-setup.ts`] },
      },
      // Client and CLI tests run against a real registry, whose "s3" variant uses the same s3rver.
      { ...pkg("client"), test: { ...pkg("client").test, globalSetup: [`${root}/packages/registry-server/test/helpers/global-setup.ts`] } },
      { ...pkg("cli"), test: { ...pkg("cli").test, globalSetup: [`${root}/packages/registry-server/test/helpers/global-setup.ts`] } },
      {
        resolve,
        test: {
          name: "e2e",
          root: `${root}/test`,
          include: ["e2e/**/*.test.ts"],
          globalSetup: [`${root}/packages/registry-server/test/helpers/global-setup.ts`],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
    reporters: process.env.CI ? ["default", ["json", { outputFile: `${root}/.test-results/vitest.json` }]] : ["default"],
    pool: "forks",
  },
});
