import type { ParameterDeclaration } from './manifest.js';
import { hasControlCharacter } from './text.js';

const OPTIONS_NAMED = 10;

/** Why `value` cannot be given to a parameter declared as `declaration` (undefined: undeclared), or null when it can. */
export function parameterValueProblem(declaration: Pick<ParameterDeclaration, 'options'> | undefined, value: string): string | null {
  if (hasControlCharacter(value)) return 'must not contain line breaks or other control characters';
  const options = declaration?.options;
  if (options && !options.includes(value)) {
    const named = options.slice(0, OPTIONS_NAMED).join(', ');
    return `is not one of the declared options (${named}${options.length > OPTIONS_NAMED ? `, and ${options.length - OPTIONS_NAMED} more` : ''})`;
  }
  return null;
}

export type ResolvedParameters = { ok: true; parameters: Record<string, string> } | { ok: false; error: string; parameter?: string };

/**
 * The parameters a build runs with: the given values (a preset's, or a request's under its preset's) over the
 * declared defaults. Every value must satisfy its declaration (parameterValueProblem); a required parameter with
 * neither value nor default can never build successfully (BEHAVIOUR.md §2, the `validation_failed` case of §4.3).
 */
export function resolveBuildParameters(
  declarations: readonly Pick<ParameterDeclaration, 'name' | 'required' | 'default' | 'options'>[],
  presetParameters: Readonly<Record<string, string>>,
): ResolvedParameters {
  // A Map, not an object: names such as `toString` or `__proto__` must not hit inherited properties.
  const values = new Map<string, string>();
  for (const decl of declarations) if (typeof decl.default === 'string') values.set(decl.name, decl.default);
  for (const [name, value] of Object.entries(presetParameters)) values.set(name, value);
  const declared = new Map(declarations.map((d) => [d.name, d]));
  for (const [name, value] of values) {
    const problem = parameterValueProblem(declared.get(name), value);
    if (problem) return { ok: false, error: `parameter ${JSON.stringify(name)} ${problem}`, parameter: name };
  }
  const missing = declarations.filter((d) => d.required && !values.get(d.name)).map((d) => d.name);
  if (missing.length) return { ok: false, error: `missing required parameter${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` };
  const parameters: Record<string, string> = {};
  for (const [name, value] of values) Object.defineProperty(parameters, name, { value, enumerable: true, writable: true, configurable: true });
  return { ok: true, parameters };
}

/**
 * The preset a workspace request matches (BEHAVIOUR.md §5): every parameter pair of the preset appears in the request;
 * the preset with the most parameters wins; ties go to the name first in code-unit order. A preset without
 * parameters matches any request, so it only wins when no more specific preset does.
 */
export function matchPreset<P extends { id: string; name: string; parameters: Readonly<Record<string, string>> }>(
  presets: readonly P[],
  requested: Readonly<Record<string, string>>,
): P | null {
  let best: P | null = null;
  let bestSize = -1;
  for (const preset of presets) {
    const pairs = Object.entries(preset.parameters);
    if (!pairs.every(([k, v]) => Object.hasOwn(requested, k) && requested[k] === v)) continue;
    if (pairs.length > bestSize || (pairs.length === bestSize && best !== null && preset.name < best.name)) {
      best = preset;
      bestSize = pairs.length;
    }
  }
  return best;
}
