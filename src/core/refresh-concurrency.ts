/**
 * How many users `refresh --all` (its --concurrency default) and the library's refreshUsers refresh at once:
 * one default for both (issue 16 item 1; the library had stayed at 16 when the CLI moved to 32). Each worker
 * mostly waits on Box and on two durable saves, and bigger batches mean fewer group commits (BENCHMARKS.md,
 * "refresh --all default concurrency 16 -> 32"). A module of its own so that the CLI's help can show it
 * without loading the refresh protocol at start-up.
 */
export const DEFAULT_REFRESH_CONCURRENCY = 32;
