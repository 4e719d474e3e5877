import { DpkgError } from "@dpkg/core";
import { Readable } from "node:stream";
import Type from "typebox";
import type { RouteModule } from "../route-context.js";

const objectQuery = Type.Object({
  start: Type.Integer({ minimum: 0 }),
  end: Type.Integer({ minimum: 0 }),
  expires: Type.Integer({ minimum: 0 }),
  sig: Type.String({ maxLength: 100 }),
});

/**
 * The folder store's stand-in for presigned S3 GETs: serves exactly the signed byte range of an
 * object. A Range header may narrow it further (a resumed download) but never widen it.
 */
export const objectRoutes: RouteModule = (app, ctx) => {
  app.get(
    "/objects/*",
    {
      schema: {
        summary: "Read a signed byte range of a stored object (URLs come from /blobs/locations)",
        params: Type.Object({ "*": Type.String({ minLength: 1, maxLength: 1024 }) }),
        querystring: objectQuery,
      },
    },
    async (request, reply) => {
      const key = request.params["*"];
      const { start, end, expires, sig } = request.query;
      ctx.signer.verify({ key, start, end, expires }, sig);
      let from = start;
      let to = end;
      const range = request.headers.range;
      if (range !== undefined) {
        const m = /^bytes=(\d+)-(\d*)$/.exec(range);
        if (m === null) throw new DpkgError("E_BAD_REQUEST", `unsupported Range header ${JSON.stringify(range)}`);
        const rs = Number(m[1]);
        const re = m[2] === "" ? end - 1 : Number(m[2]);
        if (rs < start || re >= end || rs > re) {
          throw new DpkgError("E_FORBIDDEN", `Range ${range} lies outside the signed range ${start}-${end - 1}`);
        }
        from = rs;
        to = re + 1;
      }
      const body = await ctx.blobs.get(key, { start: from, end: to });
      void reply
        .code(range === undefined ? 200 : 206)
        .header("content-length", String(to - from))
        .header("accept-ranges", "bytes")
        .type("application/octet-stream");
      if (range !== undefined) void reply.header("content-range", `bytes ${from}-${to - 1}/*`);
      return reply.send(Readable.from(body));
    },
  );
};
