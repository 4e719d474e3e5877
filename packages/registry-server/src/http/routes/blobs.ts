import * as api from "@dpkg/core/api";
import { type Digest } from "@dpkg/core";
import { receiveBlob } from "../../push/receive-blob.js";
import { receivePack } from "../../push/receive-pack.js";
import { readablePackage, writablePackage } from "../access.js";
import { groupLocations } from "../location-groups.js";
import type { RouteModule } from "../route-context.js";
import { streamBody } from "../stream-body.js";

export const blobRoutes: RouteModule = (app, ctx) => {
  app.post(
    "/packages/:namespace/:name/blobs/missing",
    {
      schema: {
        summary: "Which of these digests must still be uploaded to this namespace",
        params: api.PackageParams,
        body: api.DigestBatch,
        response: { 200: api.MissingResponse },
      },
    },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      return { missing: await ctx.meta.missingBlobs(pkg.namespace, request.body.digests as Digest[]) };
    },
  );

  app.put(
    "/packages/:namespace/:name/blobs/pack",
    {
      schema: {
        summary: "Upload small blobs as one tar stream, each member named by its digest",
        params: api.PackageParams,
        response: { 200: api.UploadResponse },
      },
    },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      return receivePack(streamBody(request, api.CONTENT_TYPES.tar), {
        blobs: ctx.blobs,
        meta: ctx.meta,
        namespace: pkg.namespace,
        packBytes: ctx.config.packBytes,
        largeBlobBytes: ctx.config.largeBlobBytes,
        claims: ctx.claims,
        buffers: ctx.packBuffers,
      });
    },
  );

  app.put(
    "/packages/:namespace/:name/blobs/:digest",
    {
      schema: {
        summary: "Upload one (large) blob; the bytes must hash to the digest",
        params: api.RevisionParams,
        response: { 200: api.UploadResponse },
      },
    },
    async (request) => {
      const pkg = writablePackage(request, request.params);
      const length = request.headers["content-length"];
      const result = await receiveBlob(streamBody(request, api.CONTENT_TYPES.blob), request.params.digest, {
        blobs: ctx.blobs,
        meta: ctx.meta,
        namespace: pkg.namespace,
        size: length === undefined ? undefined : Number(length),
      });
      return { stored: [{ digest: result.digest, size: result.size }], bytesWritten: result.bytesWritten };
    },
  );

  app.post(
    "/packages/:namespace/:name/blobs/locations",
    {
      schema: {
        summary: "Where to read these blobs: signed ranged URLs, adjacent blobs merged",
        params: api.PackageParams,
        body: api.DigestBatch,
        response: { 200: api.LocationsResponse },
      },
    },
    async (request) => {
      const pkg = await readablePackage(ctx, request, request.params);
      const wanted = request.body.digests as Digest[];
      const locations = await ctx.meta.blobLocations(pkg, wanted);
      const found = new Set(locations.map((l) => l.digest));
      const expires = Math.floor(Date.now() / 1000) + ctx.config.presignSeconds;
      const groups = await Promise.all(
        groupLocations(locations).map(async (g) => {
          const range = { start: g.start, end: g.end };
          // A pack holds other blobs too: sign its URL for this range only. A large blob's own object
          // holds nothing else, so its URL stays open to any range (parallel and resumed reads).
          const packed = g.key.startsWith("packs/");
          const presigned = await ctx.blobs.presignGet(g.key, ctx.config.presignSeconds, packed ? range : undefined);
          if (presigned !== null) return { url: presigned, ...range, viaRegistry: false, blobs: g.blobs };
          const sig = ctx.signer.sign({ key: g.key, ...range, expires });
          const base = `${request.protocol}://${request.host}`;
          const query = new URLSearchParams({ start: String(g.start), end: String(g.end), expires: String(expires), sig });
          return { url: `${base}/v1/objects/${g.key}?${query.toString()}`, ...range, viaRegistry: true, blobs: g.blobs };
        }),
      );
      return { groups, unknown: [...new Set(wanted)].filter((d) => !found.has(d)) };
    },
  );
};
