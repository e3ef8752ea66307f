// Kept in step with package.json by test/unit/cli/program.test.ts ("--version prints the package
// version"); a static string keeps start-up free of file reads.
export const VERSION = '0.2.0';
