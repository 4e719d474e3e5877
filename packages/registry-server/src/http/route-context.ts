import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from "fastify";
import type { AppDeps } from "../app.js";
import type { PartPool } from "../blob-store/part-pool.js";
import type { BlobClaims } from "../push/blob-claims.js";
import type { createUrlSigner } from "./url-signer.js";

/** A fastify scope whose route schemas (TypeBox, from core's api.ts) type the handlers. */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What every route module is given: the stores and config, passed explicitly (no decorators). */
export type RouteContext = AppDeps & {
  signer: ReturnType<typeof createUrlSigner>;
  flushOutbox: () => Promise<void>;
  /** Small blobs uploads in flight are packing (one registry process). */
  claims: BlobClaims;
  /** The buffers packs are built in, reused by the uploads of one registry process. */
  packBuffers: PartPool;
};

export type RouteModule = (app: TypedApp, ctx: RouteContext) => void | Promise<void>;
