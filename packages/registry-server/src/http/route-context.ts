import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from "fastify";
import type { AppDeps } from "../app.js";
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
};

export type RouteModule = (app: TypedApp, ctx: RouteContext) => void | Promise<void>;
