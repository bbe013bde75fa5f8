/**
 * "Active" in SQL, written once (core's isActivePreset is the same rule): the version in `versionColumn` is its
 * template's active one, and the template (alias `t`) is neither deleted nor deprecated. Not to be confused with
 * a snapshot's using_active_version, which is the version test alone.
 */
export function activeVersionSql(versionColumn: string): string {
  return `(t.active_version_id IS NOT DISTINCT FROM ${versionColumn} AND NOT t.deleted AND NOT t.deprecated)`;
}

/**
 * "Staged" in SQL, written once (core's isStagedPreset is the same rule): the version in `versionColumn` is the
 * version of its template's staged rollout (migration 024), and the template (alias `t`) is live.
 */
export function stagedVersionSql(versionColumn: string): string {
  return `(NOT t.deleted AND NOT t.deprecated AND EXISTS (
    SELECT 1 FROM template_rollouts ro WHERE ro.template_id = t.id AND ro.state = 'staged' AND ro.version_id = ${versionColumn}))`;
}

/** The version's pool is kept toward its desired count: active or staged (core's keepsPool). */
export function keepsPoolSql(versionColumn: string): string {
  return `(${activeVersionSql(versionColumn)} OR ${stagedVersionSql(versionColumn)})`;
}
