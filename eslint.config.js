import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
  // Import cycles (type-only ones included) are refused by dependency-cruiser (.dependency-cruiser.cjs), part of
  // `npm run lint`; dependencies declared where they are used, by knip (knip.jsonc).
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
