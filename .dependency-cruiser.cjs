// `npm run lint`: no import cycle between TypeScript modules, `import type` included (tsPreCompilationDeps) —
// ESLint's import-x/no-cycle skips type-only imports, and a type-only cycle still ties modules together.
// Workspace packages resolve to their sources through the `development` export condition (tsconfig.json).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles, type-only ones included, are refused (docs/ARCHITECTURE.md).',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { conditionNames: ['development', 'types', 'import', 'default'], extensions: ['.ts', '.tsx', '.js', '.mjs'], exportsFields: ['exports'], mainFields: ['module', 'main', 'types'] },
  },
};
