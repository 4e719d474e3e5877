import { DpkgError } from "@dpkg/core";
import type { FastifyRequest } from "fastify";
import { Readable } from "node:stream";

/** The raw body stream of a streaming route, or a clear error when the client sent something else. */
export function streamBody(request: FastifyRequest, contentType: string): AsyncIterable<Uint8Array> {
  const body = request.body;
  if (body instanceof Readable) return body;
  throw new DpkgError("E_BAD_REQUEST", `send the body as ${contentType} (got ${request.headers["content-type"] ?? "no content type"})`, {
    expectedContentType: contentType,
  });
}
