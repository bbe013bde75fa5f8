/**
 * PostgreSQL stores neither U+0000 (in text or jsonb) nor unpaired UTF-16 surrogates (they have no UTF-8 form),
 * so such strings are refused at the door with the path of the offending value instead of failing the INSERT.
 */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// C0 controls (line breaks, tabs, NUL), DEL, C1 controls and the Unicode line and paragraph separators: a value
// holding one could start a new line in an environment file, a log line or a script that echoes it.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Whether `value` holds a line break or another control character. */
export const hasControlCharacter = (value: string): boolean => CONTROL_CHARACTER.test(value);

const MAX_DEPTH = 64;

/** Paths (like `body.presets[0].description`) of strings, keys included, that cannot be stored. */
export function unstorableText(value: unknown, path: string, found: string[] = [], depth = 0): string[] {
  if (found.length >= 20) return found;
  if (typeof value === 'string') {
    if (UNSTORABLE.test(value)) found.push(path);
  } else if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return found;
    value.forEach((item, i) => unstorableText(item, `${path}[${i}]`, found, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    if (depth >= MAX_DEPTH) return found;
    for (const [key, item] of Object.entries(value)) {
      if (UNSTORABLE.test(key)) found.push(`${path}.${key.replace(UNSTORABLE, '?')}`);
      unstorableText(item, `${path}.${key}`, found, depth + 1);
    }
  }
  return found;
}

/** `text` cut to at most `max` characters, ending in … when cut. */
export const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A value echoed in a message: quoted and cut (user text can be megabytes long). */
export const echo = (text: string, max = 80): string => `"${clip(text, max)}"`;

/** A list in a message: the first `shown` items, then how many more there are. */
export function listed(items: readonly string[], shown = 10): string {
  const head = items.slice(0, shown).map((item) => clip(item, 40)).join(', ');
  return items.length > shown ? `${head} … (${items.length - shown} more)` : head;
}
