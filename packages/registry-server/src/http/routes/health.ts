import * as api from "@dpkg/core/api";
import { principalOf } from "../auth.js";
import type { RouteModule } from "../route-context.js";
import { DpkgError } from "@dpkg/core";

export const healthRoutes: RouteModule = (app, ctx) => {
  app.get(
    "/health",
    { schema: { summary: "Liveness and version", response: { 200: api.HealthResponse } } },
    async () => ({ status: "ok" as const, version: ctx.config.version, blobStore: ctx.blobs.describe() }),
  );

  app.get(
    "/whoami",
    { schema: { summary: "The token's name and scopes", response: { 200: api.WhoamiResponse } } },
    async (request) => {
      const p = principalOf(request);
      if (p.kind !== "token") throw new DpkgError("E_UNAUTHORIZED", "no token was sent");
      return { name: p.name, scopes: p.scopes };
    },
  );
};
