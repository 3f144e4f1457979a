/**
 * Three projects: `unit` (no I/O, parallel), `integration` (real PostgreSQL, real Temporal, fakes over
 * HTTP) and `chaos` (the fault suite: kills and restarts processes; its scale comes from CHAOS_SCALE).
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
  ],
};
