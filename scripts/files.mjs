import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `roots` (a root may be a file) whose name `accept`s, outside node_modules and dist, sorted. */
export function filesUnder(roots, accept) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      if (entry === 'node_modules' || entry === 'dist') continue;
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (accept(entry)) files.push(full);
    }
  };
  for (const root of roots) {
    if (statSync(root).isFile()) files.push(root);
    else walk(root);
  }
  return files.sort();
}
