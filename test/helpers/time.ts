/**
 * Timestamps for fixtures, written exactly as box-qc writes them: the store's own formatter (whole seconds,
 * `Z`: `2026-11-26T16:00:00Z`), so a seeded record cannot drift from what a real save produces (issue 16).
 */
export { formatTimestamp as iso } from '../../src/core/store/format.js';
