import * as api from "@dpkg/core/api";
import { DpkgError } from "@dpkg/core";
import Type from "typebox";
import { generateTokenSecret, hashTokenSecret, newTokenId } from "../../tokens.js";
import { principalOf } from "../auth.js";
import { assertAdmin } from "../principal.js";
import type { RouteModule } from "../route-context.js";
import type { TokenRecord } from "../../metadata/metadata-store.js";

const toInfo = (t: TokenRecord): api.TokenInfo => ({
  id: t.id,
  name: t.name,
  scopes: t.scopes,
  createdAt: t.createdAt.toISOString(),
  lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
});

export const tokenRoutes: RouteModule = (app, ctx) => {
  app.post(
    "/tokens",
    { schema: { summary: "Create a token (admin)", body: api.CreateTokenBody, response: { 200: api.CreateTokenResponse } } },
    async (request) => {
      assertAdmin(principalOf(request));
      const secret = generateTokenSecret();
      const createdAt = new Date();
      const id = newTokenId();
      await ctx.meta.createToken({ id, name: request.body.name, hash: hashTokenSecret(secret), scopes: request.body.scopes, createdAt });
      return { token: secret, info: toInfo({ id, name: request.body.name, scopes: request.body.scopes, createdAt, lastUsedAt: null }) };
    },
  );

  app.get("/tokens", { schema: { summary: "List tokens (admin)", response: { 200: api.TokenListResponse } } }, async (request) => {
    assertAdmin(principalOf(request));
    return { tokens: (await ctx.meta.listTokens()).map(toInfo) };
  });

  app.delete(
    "/tokens/:id",
    { schema: { summary: "Revoke a token (admin)", params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null() } } },
    async (request, reply) => {
      assertAdmin(principalOf(request));
      if (!(await ctx.meta.revokeToken(request.params.id))) {
        throw new DpkgError("E_NOT_FOUND", `no token with id ${request.params.id}`);
      }
      return reply.code(204).send(null);
    },
  );

  app.put(
    "/namespaces/:namespace",
    {
      schema: {
        summary: "Set a namespace's public-read flag (admin)",
        params: Type.Object({ namespace: api.PackageParams.properties.namespace }),
        body: Type.Object({ public: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ namespace: Type.String(), public: Type.Boolean() }) },
      },
    },
    async (request) => {
      assertAdmin(principalOf(request));
      await ctx.meta.setNamespacePublic(request.params.namespace, request.body.public);
      return { namespace: request.params.namespace, public: request.body.public };
    },
  );
};
