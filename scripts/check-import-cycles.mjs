#!/usr/bin/env node
// `npm run lint` part two: no import cycle between TypeScript modules, `import type` included (ESLint's
// import-x/no-cycle skips type-only imports; a type-only cycle still ties modules together). Relative specifiers
// (`./x.js` names `./x.ts`) and workspace packages (to their `src/index.ts`) are followed. Exits 1 naming each cycle.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { filesUnder } from './files.mjs';

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['packages', 'services', 'test', 'scripts'];
const files = filesUnder(roots.filter((root) => existsSync(root)), (name) => /\.tsx?$/.test(name) && !name.endsWith('.d.ts')).map((f) => path.resolve(f));

const packages = new Map();
for (const dir of ['packages', 'services']) {
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const manifest = path.join(dir, name, 'package.json');
    if (existsSync(manifest)) packages.set(JSON.parse(readFileSync(manifest, 'utf8')).name, path.resolve(dir, name, 'src/index.ts'));
  }
}

const resolve = (from, specifier) => {
  if (!specifier.startsWith('.')) return packages.get(specifier);
  const base = path.resolve(path.dirname(from), specifier);
  return [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
};

const graph = new Map();
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const targets = [];
  for (const node of source.statements) {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const target = resolve(file, node.moduleSpecifier.text);
      if (target) targets.push(target);
    }
  }
  graph.set(file, targets);
}

// Tarjan's strongly connected components: every component of more than one module (or a self-import) is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
const visit = (v) => {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) !== index.get(v)) return;
  const component = [];
  let w;
  do {
    w = stack.pop();
    onStack.delete(w);
    component.push(w);
  } while (w !== v);
  if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
};
for (const file of graph.keys()) if (!index.has(file)) visit(file);

if (cycles.length === 0) {
  console.log(`no import cycle in ${graph.size} TypeScript modules (type imports included)`);
} else {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => path.relative(process.cwd(), f)).sort().join(' ↔ ')}`);
  process.exit(1);
}
