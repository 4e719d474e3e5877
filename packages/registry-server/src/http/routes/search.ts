import * as api from "@dpkg/core/api";
import { principalOf } from "../auth.js";
import { grants } from "../principal.js";
import type { RouteModule } from "../route-context.js";

export const searchRoutes: RouteModule = (app, ctx) => {
  app.get(
    "/search",
    {
      schema: {
        summary: "Full-text search over package names, metadata and entry paths, best first",
        querystring: api.SearchQuery,
        response: { 200: api.SearchResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const publicNamespaces = new Set(await ctx.meta.listPublicNamespaces());
      const hits = await ctx.meta.search(request.query.q, {
        limit: request.query.limit ?? 20,
        canRead: (ns) => publicNamespaces.has(ns) || grants(principal, "read", ns),
      });
      return { hits };
    },
  );
};
