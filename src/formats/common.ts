// Building blocks shared by the document schemas (docs/json.md). Every document starts with the
// same envelope; counts, kinds and package references mean the same in all of them.
import * as v from 'valibot';

/** `format`, `formatVersion` and `afterpatch` (the writing tool's version) of a document. */
export function envelope<const F extends string>(format: F) {
  return {
    format: v.literal(format),
    formatVersion: v.literal(1),
    afterpatch: v.string(),
  };
}

/** A count, a duration or a size: a whole number, never negative. */
export const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** An object of counts, in this key order. */
export const counts = <const K extends string>(...keys: K[]) =>
  v.object(Object.fromEntries(keys.map((k) => [k, Count])) as Record<K, typeof Count>);

/** A process ID. */
export const Pid = v.pipe(v.number(), v.integer(), v.minValue(1));
export const Integer = v.pipe(v.number(), v.integer());
/** ISO 8601, UTC (what `Date.prototype.toISOString` writes). */
export const IsoTime = v.string();

/** Stale code or a deleted data file only (a locale archive): `severity` and `kind`. */
export const KindSchema = v.picklist(['code', 'data']);

export const PackageManagerSchema = v.picklist(['dpkg', 'rpm']);

/** The package that owns a path now (installed version), or null when not packaged. */
export const PackageRefSchema = v.nullable(
  v.object({ name: v.string(), version: v.string(), manager: PackageManagerSchema }),
);
