// ESLint for box-qc (issue 16 item 4): typescript-eslint type-aware, strict where it fits, plus the core/ half of
// the dependency rule for fast feedback in editors (dependency-cruiser, .dependency-cruiser.cjs, is the full
// check: cycles, io/, emulator/). Formatting is Prettier's job, so no stylistic rules here.
import js from '@eslint/js';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// STYLE.md, "The dependency rule": core/ gets clock, environment, output and HTTP as arguments, so it imports
// nothing of the CLI side and never reaches for the process.
const coreMessage =
  'core/ knows nothing of the terminal or the process: take it as an argument (STYLE.md, the dependency rule)';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'node_modules/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  {
    // Every control-character regex in this tree is deliberate: the terminal-safe filter, the store's checks
    // on stored strings, and the tests that prove no control byte reaches a terminal.
    // An empty catch is how a best-effort step (cleanup, an optional probe) says "failure changes nothing".
    rules: { 'no-control-regex': 'off', 'no-empty': ['error', { allowEmptyCatch: true }] },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.faults.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // strictTypeChecked rules left out, and why:
      // - no-non-null-assertion: with noUncheckedIndexedAccess, `list[i]!` after a length check or a lookup the
      //   code just made is the idiom (about 400 of them); a rewrite would add branches that cannot run.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // - unbound-method: Deps and ports (clock, host, logger) are plain objects of closures declared with method
      //   syntax; passing `deps.now` along is the house's dependency injection, and none of them uses `this`.
      '@typescript-eslint/unbound-method': 'off',
      // - no-dynamic-delete: store documents and the emulator's tables are records keyed by email or id;
      //   deleting a computed key is the operation, not a misuse of an object as a map.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // - no-invalid-void-type: `T | void` is how a callback says "may return nothing" (a handler without an
      //   exit code, a lock-wait hook without a cleanup); `undefined` would make every implementer return it.
      '@typescript-eslint/no-invalid-void-type': 'off',
      // - require-await (from recommended): an async function without await is how this code turns a
      //   synchronous throw into a rejection for interfaces that return promises; dropping `async` would
      //   change behaviour.
      '@typescript-eslint/require-await': 'off',
      // - no-unnecessary-condition, no-unnecessary-boolean-literal-compare, no-unnecessary-type-conversion: they
      //   trust the types where this code deliberately does not: platform constants (O_NOFOLLOW is undefined on
      //   Windows though typed number), isTTY on a stream that is not a terminal, JSON read from disk, Node's
      //   error objects. Removing those checks would trade a defence for nothing.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // - no-meaningless-void-operator: `return void i++` (step past, then leave) is the JSON scanner's idiom.
      '@typescript-eslint/no-meaningless-void-operator': 'off',
      // - no-confusing-void-expression: `return send(res, page)` inside a void function is the house's early
      //   exit, and `(d) => (out += d)` style shorthands are everywhere in the tests.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Kept, allowing `unknown`/`any`: a caught error or an AbortSignal's reason is passed on as it is, so the
      // caller sees what actually failed; wrapping it would change that.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // Kept, with an option: numbers read fine in messages (strict bans them in templates).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `_name` marks a deliberately unused parameter or binding; `{ dropped: _, ...rest }` omits a key.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      // The global that dependency-cruiser cannot see.
      'no-restricted-globals': ['error', { name: 'process', message: coreMessage }],
      // Mirrors .dependency-cruiser.cjs's core rule; type-only imports count too.
      'no-restricted-imports': [
        'error',
        {
          paths: ['commander', 'kleur', 'ora', 'process', 'node:process'].map((name) => ({
            name,
            message: coreMessage,
          })),
          patterns: [
            { regex: '^(commander|kleur|ora)/', message: coreMessage },
            { regex: '^(\\.\\./)+(io|commands)/', message: coreMessage },
            { regex: '^(\\.\\./)+(cli|main)\\.js$', message: coreMessage },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON.parse'd CLI output, emulator records and raw store files (all `any`) and hand them
      // straight to expect(); typing each one would add casts, not safety.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // it.each tables of error factories infer a union the rule cannot follow back to the constructors.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    // Plain JavaScript (bench/, scripts/, bin/, test workers) is outside the TypeScript program: checked
    // without types.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
