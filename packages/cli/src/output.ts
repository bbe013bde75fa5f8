/** Output helpers shared by every command: aligned tables for people, JSON for scripts. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A one-line progress counter on stderr, only when a person is watching (TTY) and the work is long. */
export function progress(label: string, total: number): { tick: (reached?: number) => void; done: () => void } {
  const show = process.stderr.isTTY && total >= 50;
  let n = 0;
  return {
    tick: (reached) => {
      n = reached ?? n + 1;
      if (show && (n % 25 === 0 || n === total)) process.stderr.write(`\r${label} ${n}/${total}`);
    },
    done: () => {
      if (show) process.stderr.write('\r\x1b[K');
    },
  };
}

/** A user mistake: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
