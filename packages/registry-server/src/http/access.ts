import type { PackageName } from "@dpkg/core";
import type { FastifyRequest } from "fastify";
import { principalOf } from "./auth.js";
import { assertCanRead, assertCanWrite, principalName } from "./principal.js";
import type { RouteContext } from "./route-context.js";

/** The package named by the route, once the caller is known to be allowed to read it. */
export async function readablePackage(
  ctx: RouteContext,
  request: FastifyRequest,
  params: { namespace: string; name: string },
): Promise<PackageName> {
  const pkg = { namespace: params.namespace, name: params.name };
  assertCanRead(principalOf(request), pkg, await ctx.meta.isNamespacePublic(pkg.namespace));
  return pkg;
}

/** The package named by the route, once the caller is known to be allowed to write to it. */
export function writablePackage(request: FastifyRequest, params: { namespace: string; name: string }): PackageName {
  const pkg = { namespace: params.namespace, name: params.name };
  assertCanWrite(principalOf(request), pkg);
  return pkg;
}

export function callerName(request: FastifyRequest): string {
  return principalName(principalOf(request));
}
