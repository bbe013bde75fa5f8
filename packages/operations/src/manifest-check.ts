import { ManifestSyntaxError, parseManifestText, unstorableText, validateManifest, type Manifest } from '@warmpool/core';
import type { DomainErrorCode, ErrorDetail } from '@warmpool/contracts';

export type ManifestCheck =
  | { ok: true; value: Manifest; warnings: string[] }
  | { ok: false; code: Extract<DomainErrorCode, 'invalid_manifest' | 'invalid_text'>; message: string; details: ErrorDetail[] };

/**
 * Parses (when text) and validates a manifest with the rules of §2, as data rather than a throw: it also runs in a
 * worker thread (offload/), and errors do not cross a thread boundary intact.
 */
export function inspectManifest(manifest: unknown): ManifestCheck {
  let input = manifest;
  if (typeof input === 'string') {
    try {
      input = parseManifestText(input);
    } catch (err) {
      if (err instanceof ManifestSyntaxError) return { ok: false, code: 'invalid_manifest', message: err.message, details: [] };
      throw err;
    }
  }
  // YAML escapes (\0) can produce text no transport check saw.
  const unstorable = unstorableText(input, 'manifest');
  if (unstorable.length > 0) {
    return { ok: false, code: 'invalid_text', message: 'text must not contain NUL characters or unpaired surrogates', details: unstorable.map((path) => ({ path, message: 'unstorable character' })) };
  }
  const validation = validateManifest(input);
  if (!validation.ok) return { ok: false, code: 'invalid_manifest', message: 'the manifest is invalid; nothing was stored', details: validation.errors };
  return validation;
}
