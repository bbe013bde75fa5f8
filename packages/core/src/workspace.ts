import { z } from 'zod';

/**
 * The manifest's optional `workspace` block: what a container provisioner runs for each workspace of the version.
 * Validated at import like every other field; the stored block is what provisioners read.
 */

const typeError = (expected: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`);
const objectOf = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape, { error: typeError('an object') });
const text = (max: number) => z.string({ error: typeError('a string') }).max(max, `must be at most ${max} characters`);
const noNul = (max: number) => text(max).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

/** An argv list: the program and its arguments, never a shell string (no quoting rules to get wrong). */
const Command = z
  .array(noNul(4096).min(1, 'must be a non-empty string'), { error: typeError('a list of strings (program and arguments)') })
  .min(1, 'must name a program')
  .max(256, 'must have at most 256 arguments');

/** Docker image reference: [registry/]name[:tag][@digest], lower-case path components. */
const IMAGE_PATTERN = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/;
/** `${name}` in an environment value is replaced by the build parameter `name`; `$${` writes a literal `${`. */
const REFERENCE = /\$(\$)?\{([^}]*)\}/g;

const seconds = (min: number, max: number) =>
  z.number({ error: typeError('a number of seconds') }).min(min, `must be at least ${min} seconds`).max(max, `must be at most ${max} seconds`);

const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Docker refuses less than 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 1024 ** 2;
/** Linux's own ceiling on process ids (`pid_max`): no container can use more. */
export const MAX_PIDS = 4_194_304;

/** `"512m"`, `"1g"`, `"1048576"` or a number of bytes → bytes; null when not a memory size. */
export function parseMemory(value: string | number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null;
  const m = /^([0-9]+)([bkmg]?)$/i.exec(value.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * MEMORY_UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

export const WorkspaceSchema = objectOf({
  image: text(255).regex(IMAGE_PATTERN, 'must be an image reference such as debian:bookworm or registry.example.com/team/dev:1.2'),
  command: Command.optional(),
  env: z
    .record(text(128).regex(ENV_NAME, 'must be letters, digits and _, not starting with a digit'), noNul(8192), {
      error: typeError('a map of variable names to string values'),
    })
    .optional(),
  labels: z
    .record(
      text(128)
        .regex(LABEL_KEY, 'must be lower-case letters, digits, ".", "-" or "_"')
        .refine((key) => !key.startsWith('warmpool.'), 'the warmpool. prefix is reserved for Warmpool\'s own labels'),
      noNul(1024),
      { error: typeError('a map of label names to string values') },
    )
    .optional(),
  resources: objectOf({
    cpus: z.number({ error: typeError('a number of CPUs') }).gt(0, 'must be more than 0').max(256, 'must be at most 256').optional(),
    memory: z
      .union([z.string(), z.number()], { error: typeError('a size such as "512m" or a number of bytes') })
      .superRefine((value, ctx) => {
        const bytes = parseMemory(value);
        if (bytes === null) ctx.addIssue({ code: 'custom', message: 'must be a size such as "512m", "2g" or a number of bytes' });
        else if (bytes < MIN_MEMORY_BYTES) ctx.addIssue({ code: 'custom', message: 'must be at least 6m (the engine refuses less)' });
      })
      .optional(),
    pids: z.number({ error: typeError('a number of processes') }).int('must be an integer').min(1, 'must be at least 1').max(MAX_PIDS, `must be at most ${MAX_PIDS}`).optional(),
  }).optional(),
  /** The "agent": the workspace is ready once this command succeeds. Without it, ready once running. */
  healthcheck: objectOf({
    command: Command,
    interval_seconds: seconds(0.1, 3600).default(5),
    timeout_seconds: seconds(0.1, 3600).default(5),
    retries: z.number({ error: typeError('an integer') }).int('must be an integer').min(1, 'must be at least 1').max(100, 'must be at most 100').default(3),
    start_period_seconds: seconds(0, 3600).default(0),
  }).optional(),
  /** Run in the container when a user claims it, with WARMPOOL_OWNER_NAME and WARMPOOL_OWNER_ID set. */
  claim_hook: objectOf({
    command: Command,
    timeout_seconds: seconds(1, 3600).default(60),
  }).optional(),
});

export type WorkspaceSpec = z.infer<typeof WorkspaceSchema>;

/** Names referenced as `${name}` in the block's environment values, with the variable they occur in. */
export function workspaceReferences(env: Record<string, unknown>): { variable: string; name: string }[] {
  const refs: { variable: string; name: string }[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (typeof value !== 'string') continue;
    for (const m of value.matchAll(REFERENCE)) if (!m[1]) refs.push({ variable, name: m[2]! });
  }
  return refs;
}

/** The environment with `${name}` replaced by the resolved build parameters; unknown names become "". */
export function renderWorkspaceEnv(env: Record<string, string> | undefined, parameters: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [variable, value] of Object.entries(env ?? {})) {
    out[variable] = value.replace(REFERENCE, (_all, escaped: string | undefined, name: string) =>
      escaped ? `\${${name}}` : Object.hasOwn(parameters, name) ? parameters[name]! : '',
    );
  }
  return out;
}
