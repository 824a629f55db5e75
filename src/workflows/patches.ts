/**
 * patched() markers of workflow changes that would break runs started before them (see test/replay.test.ts).
 * A run (or iteration) started before a change replays without it.
 */
/** The run checks its workflow id and claims its folder before writing anything (run-folder.ts). */
export const RUN_IDENTITY_PATCH = 'run-identity';
/** Evaluation runs the configured suites (IFEval, ...) instead of the 24-prompt smoke set, and picks the best iteration. */
export const EVAL_SUITES_PATCH = 'eval-suites';
/** The report (report.json, .md and .html) is written by the writeReport activity after every iteration, not only at the end. */
export const REPORT_EACH_ITERATION_PATCH = 'report-each-iteration';
/** A run whose sizes would take CPUs days is refused at its start when the model slots have no GPU. */
export const CPU_SCALE_PATCH = 'cpu-scale-check';
/** The run sets its search attributes wherever the namespace has them registered, however it was started. */
export const SEARCH_ATTRIBUTES_PATCH = 'search-attributes-any-start';
/** IFEval's answers and MT-Bench's turn-1 answers are one generation job (first-answers.raw.jsonl), split into each suite's file. */
export const EVAL_FIRST_ANSWERS_PATCH = 'eval-first-answers-one-job';
