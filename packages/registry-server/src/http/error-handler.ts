import { DpkgError, isDpkgError, type ErrorCode, type api } from "@dpkg/core";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { STATUS_CODES } from "node:http";

/**
 * The one place where errors become HTTP responses: a DpkgError's code gives the status (from core's
 * catalog); fastify's own errors (validation, body limits, unknown routes) get catalog codes too;
 * anything else is a 500 with a generic message, logged with its request id.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    const err = new DpkgError("E_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
    return send(reply, request, err);
  });
  app.setErrorHandler((error: FastifyError | DpkgError | Error, request, reply) => {
    const dpkg = toDpkgError(error);
    if (dpkg.status >= 500) request.log.error({ err: error }, "request failed");
    // `reason`, not `msg`: pino would write a second "msg" key, and JSON readers keep only the last.
    else request.log.info({ code: dpkg.code, reason: dpkg.message }, "request refused");
    return send(reply, request, dpkg);
  });
}

function send(reply: FastifyReply, request: FastifyRequest, err: DpkgError): FastifyReply {
  const status = err.status;
  const generic = status >= 500 && err.code === "E_INTERNAL";
  const body: api.ErrorBody = {
    statusCode: status,
    code: err.code,
    error: STATUS_CODES[status] ?? "Error",
    message: generic ? "internal error; the registry log has the details under this request id" : err.message,
    hint: err.hint,
    requestId: request.id,
  };
  if (!generic && Object.keys(err.details).length > 0) body.details = err.details;
  if (err.code === "E_RATE_LIMITED") void reply.header("retry-after", "60");
  return reply.code(status).type("application/json").send(body);
}

export function toDpkgError(error: unknown): DpkgError {
  if (isDpkgError(error)) return error;
  const e = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (e.validation !== undefined) {
    return new DpkgError("E_BAD_REQUEST", `invalid request: ${e.message ?? "validation failed"}`, {
      part: e.validationContext,
    });
  }
  const byFastifyCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: "E_TOO_LARGE",
    FST_ERR_CTP_INVALID_MEDIA_TYPE: "E_BAD_REQUEST",
    FST_ERR_CTP_EMPTY_JSON_BODY: "E_BAD_REQUEST",
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: "E_BAD_REQUEST",
    FST_ERR_CTP_EMPTY_TYPE: "E_BAD_REQUEST",
  };
  const code = e.code !== undefined ? byFastifyCode[e.code] : undefined;
  if (code !== undefined) return new DpkgError(code, e.message ?? code);
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const fallback: ErrorCode = e.statusCode === 413 ? "E_TOO_LARGE" : e.statusCode === 404 ? "E_NOT_FOUND" : "E_BAD_REQUEST";
    return new DpkgError(fallback, e.message ?? fallback);
  }
  return new DpkgError("E_INTERNAL", "internal error", {}, { cause: error });
}
