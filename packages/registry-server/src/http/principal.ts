import { DpkgError, type PackageName } from "@dpkg/core";
import type { Scope } from "../metadata/metadata-store.js";

export type Principal =
  | { kind: "anonymous" }
  | { kind: "token"; id: string; name: string; scopes: Scope[] };

export type Access = "read" | "write" | "admin";

/** Namespace patterns are literal names or globs with `*` (`lab-*`, `*`). */
export function patternMatches(pattern: string, namespace: string): boolean {
  if (!pattern.includes("*")) return pattern === namespace;
  const re = new RegExp("^" + pattern.split("*").map(escapeRegExp).join(".*") + "$");
  return re.test(namespace);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether the principal's scopes grant `access` on `namespace` (write implies read, admin implies all). */
export function grants(principal: Principal, access: Access, namespace?: string): boolean {
  if (principal.kind !== "token") return false;
  return principal.scopes.some((s) => {
    if (s.kind === "admin") return true;
    if (access === "admin" || namespace === undefined) return false;
    if (access === "write" && s.kind !== "write") return false;
    return patternMatches(s.pattern, namespace);
  });
}

export function principalName(principal: Principal): string {
  return principal.kind === "token" ? principal.name : "anonymous";
}

/**
 * Reads of something the caller may not read answer 404, exactly like a missing package, so that
 * knowing a name or digest reveals nothing. Anonymous callers get 401 instead: they can fix that.
 */
export function assertCanRead(principal: Principal, pkg: PackageName, isPublic: boolean): void {
  if (isPublic || grants(principal, "read", pkg.namespace)) return;
  if (principal.kind === "anonymous") {
    throw new DpkgError("E_UNAUTHORIZED", `reading ${pkg.namespace}/${pkg.name} needs a token`);
  }
  throw notFound(pkg);
}

export function assertCanWrite(principal: Principal, pkg: PackageName): void {
  if (grants(principal, "write", pkg.namespace)) return;
  if (principal.kind === "anonymous") {
    throw new DpkgError("E_UNAUTHORIZED", `writing to ${pkg.namespace}/${pkg.name} needs a token`);
  }
  throw new DpkgError("E_FORBIDDEN", `token "${principal.name}" may not write to namespace ${pkg.namespace}`, {
    namespace: pkg.namespace,
  });
}

export function assertAdmin(principal: Principal): void {
  if (grants(principal, "admin")) return;
  if (principal.kind === "anonymous") throw new DpkgError("E_UNAUTHORIZED", "this needs an admin token");
  throw new DpkgError("E_FORBIDDEN", `token "${principal.name}" is not an admin token`);
}

export function notFound(pkg: PackageName): DpkgError {
  return new DpkgError("E_NOT_FOUND", `package ${pkg.namespace}/${pkg.name} not found`, {
    package: `${pkg.namespace}/${pkg.name}`,
  });
}
