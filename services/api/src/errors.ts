import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode } from '@warmpool/contracts';

/** A client-facing error: `{ error: code, message, details }` with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const forbidden = (action: string) => new ApiError(403, 'forbidden', `not allowed to ${action}`);

/** The HTTP status of every domain error code (operations and db throw DomainError; no route maps them by hand). */
export const DOMAIN_ERROR_STATUS: Record<DomainErrorCode, number> = {
  not_found: 404,
  conflict: 409,
  validation_failed: 400,
  invalid_manifest: 400,
  invalid_text: 400,
  template_deprecated: 409,
  prebuild_unclaimed: 409,
  too_large: 422,
  busy: 503,
};

/** PostgreSQL data exceptions caused by values: numeric out of range, untranslatable or invalid characters. */
const INPUT_DATA_ERRORS = new Set(['22003', '22P05', '22021', '22P02']);

/**
 * Errors the router raises before any hook or handler runs (a malformed URL, a path parameter past
 * `maxParamLength`): the same error shape as everything else, instead of fastify's own.
 */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is malformed';
  void reply.status(400).send({ error: 'bad_request', message, details: [{ path: 'url', message }] });
}

/** Maps every error to the BEHAVIOUR.md §7 shape; client mistakes are 4xx, never 5xx. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send({ error: err.code, message: err.message, details: err.details });
    if (err instanceof DomainError) return reply.status(DOMAIN_ERROR_STATUS[err.code]).send({ error: err.code, message: err.message, details: err.details });
    if (err.validation) {
      const details = err.validation.map((v) => {
        const base = `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`;
        const extra = v.keyword === 'additionalProperties' ? `.${String((v.params as { additionalProperty?: string }).additionalProperty)}` : '';
        const missing = v.keyword === 'required' ? `.${String((v.params as { missingProperty?: string }).missingProperty)}` : '';
        return { path: `${base}${extra}${missing}`, message: v.keyword === 'additionalProperties' ? 'unknown field' : (v.message ?? 'invalid') };
      });
      return reply.status(400).send({ error: 'validation_failed', message: 'the request is invalid', details });
    }
    // Safety net: a value PostgreSQL refuses (out-of-range number, untranslatable character) came from the client.
    const pgCode = (err as { code?: unknown }).code;
    if (typeof pgCode === 'string' && INPUT_DATA_ERRORS.has(pgCode)) {
      request.log.warn({ pgCode }, 'database refused a client value');
      return reply.status(400).send({ error: 'invalid_value', message: 'a value is out of range or not storable', details: [] });
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'payload_too_large' : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : 'bad_request';
      return reply.status(status).send({ error: code, message: err.message, details: [] });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: 'internal', message: 'internal error', details: [] });
  });
  app.setNotFoundHandler(answerNotFound);
}

/**
 * The 404 of an unknown path. Contexts with their own authentication set it too (setNotFoundHandler inside the
 * context), so an unknown path there is authenticated first, as a known one is: 401 without a principal.
 */
export const answerNotFound = (request: FastifyRequest, reply: FastifyReply) =>
  reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, details: [] });
