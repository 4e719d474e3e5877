import * as api from "@dpkg/core/api";
import { type Digest } from "@dpkg/core";
import { streamBody } from "../stream-body.js";
import { commitManifest } from "../../push/commit.js";
import { callerName, writablePackage } from "../access.js";
import type { RouteModule } from "../route-context.js";
import { toApiRevision } from "../to-api.js";

export const revisionRoutes: RouteModule = (app, ctx) => {
  app.post(
    "/packages/:namespace/:name/revisions",
    {
      schema: {
        summary: "Commit a manifest (the body, canonical JSON Lines) as a new revision",
        description:
          "Every digest the manifest names must have been uploaded to this namespace first. The revision becomes visible only once everything is checked, in one transaction.",
        params: api.PackageParams,
        querystring: api.CommitQuery,
        response: { 200: api.CommitResponse },
      },
    },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      const q = request.query;
      const length = request.headers["content-length"];
      const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
      const expectParent: Digest | null | undefined =
        q.expectParent === undefined ? undefined : q.expectParent === "none" ? null : (q.expectParent as Digest);
      const result = await commitManifest(
        streamBody(request, api.CONTENT_TYPES.manifest),
        {
          pkg,
          digest: q.digest as Digest,
          message: q.message ?? "",
          author: callerName(request),
          tags,
          moveLatest: q.noLatest !== true,
          expectParent,
          declaredBytes: length === undefined ? undefined : Number(length),
        },
        {
          blobs: ctx.blobs,
          meta: ctx.meta,
          tmpDir: ctx.config.tmpDir,
          flushOutbox: ctx.flushOutbox,
          maxManifestBytes: ctx.config.maxManifestBytes,
        },
      );
      return { revision: toApiRevision(result.revision), unchanged: result.unchanged, tags: result.tags };
    },
  );
};
