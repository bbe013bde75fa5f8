import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-results*', '.bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  // No import cycles (docs/ARCHITECTURE.md). The TypeScript resolver follows workspace packages to their sources
  // (the `development` export condition) and `.js` specifiers to the `.ts` files they name.
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json', conditionNames: ['development', 'types', 'import', 'default'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  // All SQL lives in packages/db (docs/ARCHITECTURE.md). Tests may query directly to arrange and assert state.
  {
    files: ['**/*.{ts,js,mjs}'],
    ignores: ['packages/db/**', 'test/**', 'packages/*/test/**', 'services/*/test/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='query']", message: 'SQL belongs in packages/db: add a function there and call it.' },
      ],
      'no-restricted-imports': ['error', { paths: [{ name: 'pg', message: 'Only packages/db talks to PostgreSQL.' }] }],
    },
  },
  {
    // The pools console runs in the browser.
    files: ['services/api/console/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.test.ts'],
    rules: { 'no-restricted-properties': ['error', { object: 'test', property: 'only' }, { object: 'it', property: 'only' }, { object: 'describe', property: 'only' }, { object: 'test', property: 'skip' }, { object: 'it', property: 'skip' }] },
  },
);
