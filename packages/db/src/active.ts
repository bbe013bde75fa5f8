/**
 * "Active" in SQL, written once (core's isActivePreset is the same rule): the version in `versionColumn` is its
 * template's active one, and the template (alias `t`) is neither deleted nor deprecated. Not to be confused with
 * a snapshot's using_active_version, which is the version test alone.
 */
export function activeVersionSql(versionColumn: string): string {
  return `(t.active_version_id IS NOT DISTINCT FROM ${versionColumn} AND NOT t.deleted AND NOT t.deprecated)`;
}
