import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { BlobStore } from "./blob-store/blob-store.js";
import { installAuth } from "./http/auth.js";
import { installErrorHandler } from "./http/error-handler.js";
import { createUrlSigner } from "./http/url-signer.js";
import type { RouteContext, RouteModule } from "./http/route-context.js";
import { blobRoutes } from "./http/routes/blobs.js";
import { healthRoutes } from "./http/routes/health.js";
import { objectRoutes } from "./http/routes/objects.js";
import { packageRoutes } from "./http/routes/packages.js";
import { revisionRoutes } from "./http/routes/revisions.js";
import { searchRoutes } from "./http/routes/search.js";
import { tagRoutes } from "./http/routes/tags.js";
import { tokenRoutes } from "./http/routes/tokens.js";
import type { MetadataStore } from "./metadata/metadata-store.js";
import { PartPool } from "./blob-store/part-pool.js";
import { BlobClaims } from "./push/blob-claims.js";
import { DEFAULT_PACK_BUFFER_BYTES } from "./push/pack-builder.js";
import { createOutboxFlusher } from "./push/outbox.js";

export interface AppConfig {
  version: string;
  /** Folder for request-scoped temp files (manifests while they stream in). */
  tmpDir: string;
  /** Secret for the registry's own presigned object URLs (folder store). */
  urlSecret: Uint8Array;
  /** How long presigned URLs stay valid. */
  presignSeconds: number;
  /** Small blobs are packed up to this many bytes per pack object. */
  packBytes: number;
  /** Blobs at or above this size are stored as objects of their own. */
  largeBlobBytes: number;
  /** Limit of JSON request bodies. Streaming bodies (blobs, packs, manifests) have their own limits. */
  jsonBodyLimit: number;
  /** Limit of a manifest's size (default 2 GiB, about 10 million entries without metadata). */
  maxManifestBytes?: number;
}

export interface AppDeps {
  blobs: BlobStore;
  meta: MetadataStore;
  config: AppConfig;
  /** Log level, or false for no logs (tests). Logs are pino JSON lines, to `logStream` or stdout. */
  logLevel?: string | false;
  logStream?: NodeJS.WritableStream;
}

export type App = FastifyInstance;

/** Presigned URLs carry their signature in the query string: never log it. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:sig|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&]*/gi, "$1[redacted]");
}

/** Builds the registry app around its stores; never listens (main.ts does). */
export async function buildApp(deps: AppDeps): Promise<App> {
  const logger: FastifyServerOptions["logger"] =
    deps.logLevel === undefined || deps.logLevel === false
      ? false
      : {
          level: deps.logLevel,
          ...(deps.logStream === undefined ? {} : { stream: deps.logStream }),
          redact: { paths: ["req.headers.authorization"], censor: "[redacted]" },
          serializers: {
            req: (req: { method: string; url: string; ip?: string }) => ({
              method: req.method,
              url: redactUrl(req.url),
              remoteAddress: req.ip,
            }),
          },
        };
  const app = Fastify({
    logger,
    bodyLimit: deps.config.jsonBodyLimit,
    requestIdHeader: "x-request-id",
    genReqId: () => crypto.randomUUID(),
    routerOptions: { maxParamLength: 1024 },
    // Refuse fields a schema does not allow instead of silently dropping them (fastify's default):
    // a misspelled `expectParent` must fail the request, not commit without the parent check.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Streaming bodies are handed to routes untouched, as the raw request stream.
  app.addContentTypeParser(
    ["application/octet-stream", "application/x-tar", "application/x-dpkg-manifest+jsonl"],
    (_request, payload, done) => done(null, payload),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: "dpkg registry", version: deps.config.version, description: "Versioned data packages." },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  installErrorHandler(app);
  installAuth(app, { meta: deps.meta });

  const flusher = createOutboxFlusher(deps);
  const ctx: RouteContext = {
    ...deps,
    signer: createUrlSigner(deps.config.urlSecret),
    claims: new BlobClaims(),
    // Enough for a few uploads at once, each with a pack filling and one being stored.
    packBuffers: new PartPool(deps.blobs.partSize ?? DEFAULT_PACK_BUFFER_BYTES, 8),
    flushOutbox: async () => {
      // A revision is committed once the index says so; its bucket records follow. If the bucket is
      // briefly unavailable they stay queued and the next flush (next commit, or startup) writes them.
      await flusher().catch((err: unknown) => app.log.warn({ err }, "bucket records queued; will retry"));
    },
  };
  const modules: RouteModule[] = [healthRoutes, tokenRoutes, packageRoutes, revisionRoutes, tagRoutes, blobRoutes, objectRoutes, searchRoutes];
  for (const routes of modules) {
    await app.register((scope) => routes(scope.withTypeProvider<TypeBoxTypeProvider>(), ctx), { prefix: "/v1" });
  }
  app.addHook("onReady", async () => {
    // Bucket writes a previous process queued but did not finish.
    await ctx.flushOutbox();
  });
  return app;
}
