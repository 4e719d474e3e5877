import * as api from "@dpkg/core/api";
import { compilePathGlobs, parseQuery, parseRef, type QueryNode } from "@dpkg/core";
import { Readable } from "node:stream";
import { manifestKey } from "../../blob-store/layout.js";
import { readablePackage } from "../access.js";
import { notFound } from "../principal.js";
import type { RouteModule } from "../route-context.js";
import { toApiRevision } from "../to-api.js";

export const packageRoutes: RouteModule = (app, ctx) => {
  app.get(
    "/packages/:namespace/:name",
    { schema: { summary: "Package info: metadata, latest revision, tags", params: api.PackageParams, response: { 200: api.PackageInfo } } },
    async (request) => {
      const pkg = await readablePackage(ctx, request, request.params);
      const info = await ctx.meta.getPackage(pkg);
      if (info === null) throw notFound(pkg);
      return {
        namespace: info.namespace,
        name: info.name,
        meta: info.meta,
        latest: info.latest === null ? null : toApiRevision(info.latest),
        tags: info.tags,
        public: await ctx.meta.isNamespacePublic(pkg.namespace),
      };
    },
  );

  app.get(
    "/packages/:namespace/:name/revisions",
    { schema: { summary: "Revision log, newest first", params: api.PackageParams, querystring: api.LogQuery, response: { 200: api.LogResponse } } },
    async (request) => {
      const pkg = await readablePackage(ctx, request, request.params);
      if ((await ctx.meta.getPackage(pkg)) === null) throw notFound(pkg);
      const before = request.query.before === undefined ? undefined : new Date(request.query.before);
      const revisions = await ctx.meta.listRevisions(pkg, { limit: request.query.limit ?? 100, before });
      return { revisions: revisions.map(toApiRevision) };
    },
  );

  app.get(
    "/packages/:namespace/:name/resolve/:ref",
    { schema: { summary: "Resolve a tag or digest prefix to a revision digest", params: api.RefParams, response: { 200: api.ResolveResponse } } },
    async (request) => {
      const { namespace, name, ref } = request.params;
      const pkg = await readablePackage(ctx, request, request.params);
      const parsed = parseRef(`${namespace}/${name}@${ref}`);
      const revision = await ctx.meta.resolve(pkg, parsed.selector);
      return { digest: revision.digest, ref };
    },
  );

  app.get(
    "/packages/:namespace/:name/revisions/:digest/manifest",
    { schema: { summary: "The canonical manifest (JSON Lines), streamed", params: api.RevisionParams } },
    async (request, reply) => {
      const pkg = await readablePackage(ctx, request, request.params);
      const revision = await ctx.meta.resolve(pkg, { kind: "digest", prefix: request.params.digest.slice(7), full: true });
      const body = await ctx.blobs.get(manifestKey(revision.digest));
      return reply.type(api.CONTENT_TYPES.manifest).send(Readable.from(body));
    },
  );

  app.get(
    "/packages/:namespace/:name/revisions/:digest/entries",
    {
      schema: {
        summary: "Entries selected by --where and --path, as NDJSON in path order (paginate with `after`)",
        params: api.RevisionParams,
        querystring: api.EntriesQuery,
      },
    },
    async (request, reply) => {
      const pkg = await readablePackage(ctx, request, request.params);
      const revision = await ctx.meta.resolve(pkg, { kind: "digest", prefix: request.params.digest.slice(7), full: true });
      const { where, path, limit, after } = request.query;
      const paths = path === undefined ? undefined : Array.isArray(path) ? path : [path];
      // Parse and check everything before the first byte is sent, so errors are proper 400s.
      const query: QueryNode | undefined = where === undefined || where.trim() === "" ? undefined : parseQuery(where);
      if (paths !== undefined) compilePathGlobs(paths);
      const entries = ctx.meta.selectEntries(revision.digest, { where: query, paths, after, limit });
      async function* lines(): AsyncGenerator<string> {
        for await (const e of entries) yield JSON.stringify(e) + "\n";
      }
      return reply.type(api.CONTENT_TYPES.entries).send(Readable.from(lines()));
    },
  );
};
