import * as api from "@dpkg/core/api";
import { DpkgError, parseTag } from "@dpkg/core";
import Type from "typebox";
import { callerName, readablePackage, writablePackage } from "../access.js";
import { notFound } from "../principal.js";
import type { RouteModule } from "../route-context.js";
import { toApiTagMove } from "../to-api.js";

export const tagRoutes: RouteModule = (app, ctx) => {
  app.get(
    "/packages/:namespace/:name/tags",
    { schema: { summary: "Current tags", params: api.PackageParams, response: { 200: api.TagsResponse } } },
    async (request) => {
      const pkg = await readablePackage(ctx, request, request.params);
      const info = await ctx.meta.getPackage(pkg);
      if (info === null) throw notFound(pkg);
      return { tags: info.tags };
    },
  );

  app.get(
    "/packages/:namespace/:name/tag-history",
    {
      schema: {
        summary: "Every tag move (who, when, from, to), oldest first",
        params: api.PackageParams,
        querystring: Type.Object({ tag: Type.Optional(api.TagSchema) }),
        response: { 200: api.TagHistoryResponse },
      },
    },
    async (request) => {
      const pkg = await readablePackage(ctx, request, request.params);
      if ((await ctx.meta.getPackage(pkg)) === null) throw notFound(pkg);
      return { moves: (await ctx.meta.tagHistory(pkg, request.query.tag)).map(toApiTagMove) };
    },
  );

  app.put(
    "/packages/:namespace/:name/tags/:tag",
    { schema: { summary: "Point a tag at a revision", params: api.TagParams, body: api.SetTagBody, response: { 200: api.TagMove } } },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      const tag = parseTag(request.params.tag);
      // The target must be a revision of this package: resolve also checks that.
      const target = await ctx.meta.resolve(pkg, { kind: "digest", prefix: request.body.target.slice(7), full: true });
      const move = await ctx.meta.setTag(pkg, tag, target.digest, callerName(request), new Date());
      await ctx.flushOutbox();
      return toApiTagMove(move);
    },
  );

  app.delete(
    "/packages/:namespace/:name/tags/:tag",
    { schema: { summary: "Delete a tag", params: api.TagParams, response: { 200: api.TagMove } } },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      if (request.params.tag === "latest") {
        throw new DpkgError("E_BAD_TAG", "the latest tag cannot be deleted; point it elsewhere with 'dpkg tag'");
      }
      const move = await ctx.meta.deleteTag(pkg, request.params.tag, callerName(request), new Date());
      await ctx.flushOutbox();
      return toApiTagMove(move);
    },
  );
};
