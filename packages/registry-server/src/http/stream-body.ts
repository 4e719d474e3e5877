import { DpkgError } from "@dpkg/core";
import type { FastifyRequest } from "fastify";
import { Readable } from "node:stream";

/**
 * The raw body stream of a streaming route, or a clear error when the client sent something else:
 * a parsed body (JSON, no body at all) or the raw body of another streaming route (a tar sent to
 * the manifest route is not a manifest, even though both arrive as streams).
 */
export function streamBody(request: FastifyRequest, contentType: string): AsyncIterable<Uint8Array> {
  const body = request.body;
  const sent = request.headers["content-type"];
  const mediaType = sent?.split(";", 1)[0]?.trim().toLowerCase();
  if (body instanceof Readable && mediaType === contentType) return body;
  throw new DpkgError("E_BAD_REQUEST", `send the body as ${contentType} (got ${sent ?? "no content type"})`, {
    expectedContentType: contentType,
  });
}
