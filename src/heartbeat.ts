/**
 * How often a model job heartbeats while it is alive but quiet (loading a model, a long training step), and
 * the shortest heartbeat timeout a run may ask for: three such intervals, so one slow beat fails nothing.
 * Shared by the activities (which beat) and the config schema (which checks the timeout).
 */
export const HEARTBEAT_EVERY_S = 10;
export const MIN_HEARTBEAT_TIMEOUT_S = 3 * HEARTBEAT_EVERY_S;
