/**
 * Outcomes a caller must branch on, named by a code rather than by a class: the API turns each code into an HTTP
 * status through one table (services/api/src/errors.ts), the CLI into a usage error.
 */
export type DomainErrorCode =
  | 'not_found'
  | 'conflict'
  | 'validation_failed'
  | 'invalid_manifest'
  | 'invalid_text'
  | 'template_deprecated'
  | 'prebuild_unclaimed'
  /** Input whose work would exceed a bound (size, count, or the time budget of off-loop work). */
  | 'too_large'
  /** The off-loop workers' queue is full: try again shortly. */
  | 'busy';

/** One offending input: `path` names the field as the HTTP API receives it (`body.preset_id`, `querystring.to`). */
export type ErrorDetail = { path: string; message: string };

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}
