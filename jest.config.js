/**
 * Four projects: `unit` (no I/O, parallel), `integration` (real PostgreSQL, real Temporal, fakes over
 * HTTP), `chaos` (the fault suite: kills and restarts processes; its scale comes from CHAOS_SCALE) and
 * `stack` (the production topology of scripts/stack: `npm run test:stack` only).
 * ts-jest transpiles file by file (tsconfig's isolatedModules); `npm run build` type-checks.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    {
      displayName: 'chaos',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
    },
    {
      // `npm run test:stack`: the production topology (scripts/stack), each file starting its own.
      displayName: 'stack',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/stack/**/*.test.ts'],
    },
  ],
};
