import { DpkgError } from "@dpkg/core";
import { LOCK_FILE, type Lockfile, type LockedPackage } from "./lockfile.js";
import { compactFields, DEFAULT_LINK, fieldsDiffer, type PackageFields } from "./package-fields.js";
import { WANTED_FILE, type Wanted } from "./wanted.js";

export interface ReconciledPackage {
  name: string;
  /** What dpkg.json wants (or, without a dpkg.json, what the lock records). */
  fields: PackageFields;
  /** The lock's pin when it matches `fields` exactly: install it as is, no resolution. */
  pin: LockedPackage | undefined;
  /** The lock's entry for the package, matching or not (offline resolution may still use it). */
  locked: LockedPackage | undefined;
}

/**
 * Pairs what dpkg.json wants with what dpkg.lock pins, for `dpkg install` without a name. A package
 * whose ref, dest, selection and link agree in both keeps its pin; one that differs, or that the lock
 * lacks, is to be resolved again. With `frozen`, any disagreement (in either direction) is an
 * E_LOCK_MISMATCH naming the package and the field, and nothing is resolved or written.
 */
export function reconcile(wanted: Wanted | null, lock: Lockfile | null, frozen: boolean): ReconciledPackage[] {
  const locked = lock?.packages ?? {};
  const wants = wanted?.packages ?? Object.fromEntries(Object.entries(locked).map(([name, pin]) => [name, fieldsOf(pin)]));
  const out: ReconciledPackage[] = [];
  for (const name of Object.keys(wants).sort()) {
    const fields = wants[name]!;
    const pin = locked[name];
    const field = pin === undefined ? null : fieldsDiffer(fields, pin);
    if (frozen && pin === undefined) {
      throw mismatch(name, "digest", `${name} is in ${WANTED_FILE} but not pinned in ${LOCK_FILE}`);
    }
    if (frozen && field !== null) {
      const show = (v: unknown): string => (v === undefined ? "nothing" : JSON.stringify(v));
      const wantedValue = field === "link" ? (fields.link ?? DEFAULT_LINK) : fields[field];
      throw mismatch(
        name,
        field,
        `${WANTED_FILE} and ${LOCK_FILE} disagree on ${name}.${field}: ${WANTED_FILE} has ${show(wantedValue)}, ${LOCK_FILE} has ${show(pin![field])}`,
      );
    }
    out.push({ name, fields, pin: field === null ? pin : undefined, locked: pin });
  }
  if (frozen) {
    for (const name of Object.keys(locked)) {
      if (wants[name] === undefined) throw mismatch(name, "package", `${name} is pinned in ${LOCK_FILE} but not wanted in ${WANTED_FILE}`);
    }
  }
  return out;
}

export function fieldsOf(pin: LockedPackage): PackageFields {
  const link = pin.link === DEFAULT_LINK ? undefined : pin.link;
  return compactFields({ ref: pin.ref, dest: pin.dest, paths: pin.paths, where: pin.where, link, lazy: pin.lazy });
}

function mismatch(name: string, field: string, message: string): DpkgError {
  return new DpkgError("E_LOCK_MISMATCH", message, { package: name, field });
}
