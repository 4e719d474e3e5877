import { buildApp } from "../app.js";
import type { RegistryConfig } from "../config.js";
import { ensureAdminToken, openRegistry } from "../open-registry.js";

/** Runs the registry until SIGINT/SIGTERM, then finishes in-flight requests and closes the stores. */
export async function serve(config: RegistryConfig): Promise<void> {
  const registry = await openRegistry(config);
  const tokenFile = await ensureAdminToken(registry.meta, config.dataDir);
  const app = await buildApp({ blobs: registry.blobs, meta: registry.meta, config: registry.appConfig, logLevel: config.logLevel });
  const address = await app.listen({ host: config.host, port: config.port });
  // One write: whoever waits for "listening on" (a supervisor, a test) then has the whole banner.
  let banner =
    `dpkg registry ${registry.appConfig.version} listening on ${address}\n` +
    `  index: ${config.dataDir}/index.sqlite   blobs: ${registry.blobs.describe()}\n`;
  if (tokenFile !== null) {
    banner +=
      `  created an admin token in ${tokenFile} (mode 0600). To push from this machine:\n` +
      `    export DPKG_REGISTRY=${address} DPKG_TOKEN=$(cat ${tokenFile})\n`;
  }
  process.stderr.write(banner);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) {
      process.stderr.write(`dpkg registry: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    closing = true;
    process.stderr.write(`dpkg registry: ${signal}, finishing in-flight requests\n`);
    app
      .close()
      .then(() => registry.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`dpkg registry: shutdown failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}
