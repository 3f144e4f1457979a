// Lint: floating promises are errors everywhere; workflows/ stays deterministic (no Node built-ins,
// no database layer, no providers, no zod).
import tseslint from 'typescript-eslint';

const workflowForbidden = [
  { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process', 'stream', 'dns', 'timers'], message: 'Workflows are deterministic: no Node built-ins.' },
  { group: ['@mikro-orm/*', 'pg', 'knex', '**/db/**'], message: 'Workflows never touch the database: use an activity.' },
  { group: ['zod', 'zod/*'], message: 'Validate in the API or an activity, not in a workflow.' },
  { group: ['**/providers/**', '**/activities/*.activities', '**/src/modules/**'], message: 'Workflows call providers only through activities.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.test-data/**', '.tools/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts', 'console/**/*.tsx'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: workflowForbidden }] },
  },
  {
    files: ['**/*.ts'],
    ignores: ['workers/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/workers/*', '!**/workers/media-worker'], message: 'Nothing imports from workers/ but the entry points.' }] }] },
  },
);
