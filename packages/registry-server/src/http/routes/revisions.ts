import * as api from "@dpkg/core/api";
import { type Digest } from "@dpkg/core";
import { streamBody } from "../stream-body.js";
import { commitManifest, commitStaged, stageManifest } from "../../push/commit.js";
import { callerName, writablePackage } from "../access.js";
import type { RouteModule } from "../route-context.js";
import { toApiRevision } from "../to-api.js";

export const revisionRoutes: RouteModule = (app, ctx) => {
  app.put(
    "/packages/:namespace/:name/manifests/:digest",
    {
      schema: {
        summary: "Stage a manifest (the body, canonical JSON Lines) ahead of its commit",
        description:
          "Checked against the digest and indexed as a commit would, and stored, but no revision names it: nothing is visible. A client sends it while its last blobs are still on their way, then commits it by digest without a body.",
        params: api.RevisionParams,
        response: { 200: api.StageResponse },
      },
    },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      const length = request.headers["content-length"];
      const digest = request.params.digest as Digest;
      const summary = await stageManifest(
        streamBody(request, api.CONTENT_TYPES.manifest),
        { pkg, digest, declaredBytes: length === undefined ? undefined : Number(length) },
        { blobs: ctx.blobs, meta: ctx.meta, tmpDir: ctx.config.tmpDir, maxManifestBytes: ctx.config.maxManifestBytes },
      );
      return { digest, entryCount: summary.entryCount, totalSize: summary.totalSize };
    },
  );

  app.post(
    "/packages/:namespace/:name/revisions",
    {
      schema: {
        summary: "Commit a manifest (the body, canonical JSON Lines; or, without a body, the staged one) as a new revision",
        description:
          "Every digest the manifest names must have been uploaded to this namespace first. The revision becomes visible only once everything is checked, in one transaction. Without a body, the manifest staged under the digest is committed (E_NOT_STAGED if there is none).",
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
      const commit = {
        pkg,
        digest: q.digest as Digest,
        message: q.message ?? "",
        author: callerName(request),
        tags,
        moveLatest: q.noLatest !== true,
        expectParent,
        declaredBytes: length === undefined ? undefined : Number(length),
      };
      const deps = {
        blobs: ctx.blobs,
        meta: ctx.meta,
        tmpDir: ctx.config.tmpDir,
        flushOutbox: ctx.flushOutbox,
        maxManifestBytes: ctx.config.maxManifestBytes,
      };
      const bodiless = request.body === undefined && request.headers["content-type"] === undefined;
      const result = bodiless
        ? await commitStaged(commit, deps)
        : await commitManifest(streamBody(request, api.CONTENT_TYPES.manifest), commit, deps);
      return { revision: toApiRevision(result.revision), unchanged: result.unchanged, tags: result.tags };
    },
  );
};
