// Kept in step with package.json by test/unit/version.test.ts; a static string keeps start-up free of file reads.
export const VERSION = '0.1.0';
