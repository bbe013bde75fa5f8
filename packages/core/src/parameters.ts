import type { ParameterDeclaration } from './manifest.js';

/**
 * The parameters a build of a preset runs with: the preset's values over the declared defaults. A required
 * parameter with neither can never build successfully (BEHAVIOUR.md §2, the `validation_failed` case of §4.3).
 */
export function resolveBuildParameters(
  declarations: readonly Pick<ParameterDeclaration, 'name' | 'required' | 'default'>[],
  presetParameters: Readonly<Record<string, string>>,
): { ok: true; parameters: Record<string, string> } | { ok: false; error: string } {
  // A Map, not an object: names such as `toString` or `__proto__` must not hit inherited properties.
  const values = new Map<string, string>();
  for (const decl of declarations) if (typeof decl.default === 'string') values.set(decl.name, decl.default);
  for (const [name, value] of Object.entries(presetParameters)) values.set(name, value);
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
