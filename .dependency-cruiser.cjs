// The dependency rule of STYLE.md, machine-checked (issue 16 item 4): `main -> cli -> commands -> {core, io}`,
// core/ free of the terminal and the process, io/ free of core/, the emulator standing alone, and no import
// cycles. Type-only imports count (tsPreCompilationDeps): a type cycle still ties two modules together.
// ESLint (eslint.config.js) mirrors the core/ rule for editors and also catches the `process` global,
// which no import shows.

/** STYLE.md: "core imports only node:*, undici, jose, the lock library and its own modules". */
const CLI_SIDE = '^src/(io|commands)/|^src/(cli|main)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles (type-only ones included) make modules that cannot be read, tested or moved alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-not-cli-side',
      severity: 'error',
      comment: 'core/ knows nothing of the terminal or the process: output, flags and environment arrive as arguments.',
      from: { path: '^src/core/' },
      to: { path: CLI_SIDE },
    },
    {
      name: 'core-no-terminal-libraries',
      severity: 'error',
      comment: 'commander, kleur and ora belong to the CLI side; core/ returns typed results for it to render.',
      from: { path: '^src/core/' },
      // Matched on the resolved path (node_modules/kleur/...) and, should it not resolve, on the name.
      to: { path: ['(^|/)node_modules/(commander|kleur|ora)/', '^(commander|kleur|ora)($|/)'] },
    },
    {
      name: 'core-no-process',
      severity: 'error',
      comment: 'core/ takes pid, environment and signals from Deps, never from node:process.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?process$' },
    },
    {
      name: 'io-not-core',
      severity: 'error',
      comment: 'The output port renders what it is given; shared error types live in src/errors.ts, not core/.',
      from: { path: '^src/io/' },
      to: { path: '^src/core/' },
    },
    {
      name: 'emulator-stands-alone',
      severity: 'error',
      comment: 'The emulator plays Box for the tests: built from the same code it tests, it would prove nothing.',
      from: { path: '^src/emulator/' },
      to: { path: '^src/(core|commands)/' },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      comment: 'Shipped code never depends on test code.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'src-no-dev-dependencies',
      severity: 'error',
      comment: 'A devDependency is missing after `npm install --omit=dev`; type-only imports are erased, so they may.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time (or only in the bundle).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A module in src/ that nothing imports is dead code (the entry points are listed here).',
      from: {
        orphan: true,
        path: '^src/',
        pathNot: ['^src/(main|index)\\.ts$', '^src/emulator/index\\.ts$', '\\.d\\.ts$'],
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Not node_modules: excluding it would hide the very imports the core rule forbids (doNotFollow is enough).
    exclude: { path: '^(dist|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
