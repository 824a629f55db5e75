/**
 * The I-SHEEP method as pure functions, one module per step (see ISHEEP.md):
 * synthesis (1), prompt filters with ROUGE-L dedup (2), response requests (3), rule filter (4),
 * self-assessment prompts and score parsing (5), selection (6), the first evaluation, and the MT-Bench and
 * AlpacaEval suites (mt-bench.ts, alpaca-eval.ts: prompts, verdict parsing and aggregation; files are read by callers).
 * Nothing here imports Temporal, touches files, or draws randomness except through a seeded Rng.
 */
export type { Task, TaskText, Pair, Counted } from './types.js';
export { zeroCounts } from './types.js';

export type { Rng } from './rng.js';
export { createRng, seedFromString } from './rng.js';

export type { ParsedSynthesis, ParseOptions } from './synthesis.js';
export {
  NUM_DEMOS,
  NUM_TASKS_REQUESTED,
  NO_INPUT_MARKER,
  GENERATION_SAMPLING,
  synthesisPreamble,
  buildSynthesisPrompt,
  firstOpenNumber,
  pickDemos,
  parseSynthesized,
  isNoInputMarker,
} from './synthesis.js';

export type { RougeScore } from './rouge.js';
export {
  NEAR_DUPLICATE_THRESHOLD,
  rougeTokens,
  rougeL,
  rougeLFromIds,
  fmeasure,
  f1FromLcs,
  lcsLength,
  lcsLengthDp,
  LcsPattern,
  Vocabulary,
  DedupIndex,
} from './rouge.js';

export type { InstructionFilter, InstructionFilterConfig, FilteredInstructions } from './prompt-filters.js';
export {
  INSTRUCTION_FILTERS,
  MIN_WORDS_EXCLUSIVE,
  MAX_WORDS,
  BLACKLIST,
  DEFAULT_INSTRUCTION_FILTER_CONFIG,
  wordCount,
  hasBadStart,
  containsUrl,
  blacklistMatcher,
  staticFilterReason,
  filterInstructions,
} from './prompt-filters.js';

export type { ChatMessage, ResponseRequest } from './responses.js';
export { RESPONSE_SYSTEM_PROMPT, taskText, buildResponseRequest } from './responses.js';

export type { Rule } from './rule-filter.js';
export {
  RULES,
  RULE_CHECKS,
  isEmptyResponse,
  hasFakeDialogueTurn,
  asksUserBack,
  isMultipleChoice,
  isPlaceholder,
  hasPlaceholderInput,
  hasInputInInstruction,
  firstBrokenRule,
  applyRuleFilter,
} from './rule-filter.js';

export type { AssessmentKind, AssessmentVariant, ParsedScore } from './assessment.js';
export {
  ASSESSMENT_KINDS,
  ASSESSMENT_VARIANTS,
  DEFAULT_ASSESSMENT_VARIANT,
  SCORE_MIN,
  SCORE_MAX,
  ASSESSMENT_SAMPLING,
  buildAssessmentPrompt,
  parseScore,
} from './assessment.js';

export type { SelectionLevel, SelectionDropReason, JudgedPair, ScoredPair, SelectionOptions, SelectionResult } from './selection.js';
export { SELECTION_LEVELS, DEFAULT_SCORE_THRESHOLD, SELECTION_DROP_REASONS, selectPairs } from './selection.js';

export type { Check, EvalItem, ItemScore, EvaluationScore } from './evaluation.js';
export { EVAL_ITEMS, checkResponse, scoreEvaluation } from './evaluation.js';

export type { AlpacaRow, MessagesRow, LengthStats } from './export.js';
export { toAlpaca, toMessages, lengthStats } from './export.js';

export type {
  MtBenchCategory,
  MtBenchTurn,
  MtBenchQuestion,
  MtBenchReference,
  JudgePrompt,
  SingleJudgeTemplate,
  JudgeInput,
  JudgeRequest,
  MtBenchJudgment,
  MtBenchCell,
  MtBenchSummary,
} from './mt-bench.js';
export {
  MT_BENCH_CATEGORIES,
  NEED_REF_CATS,
  MT_BENCH_TEMPERATURE,
  MT_BENCH_DEFAULT_TEMPERATURE,
  MT_BENCH_MAX_NEW_TOKENS,
  JUDGE_SAMPLING,
  SINGLE_JUDGE_TEMPLATES,
  UNPARSABLE_RATING,
  parseMtBenchQuestions,
  parseMtBenchReferences,
  parseJudgePrompts,
  referencesById,
  mtBenchMessages,
  mtBenchSampling,
  judgeTemplateName,
  needsReference,
  formatPythonTemplate,
  buildJudgeRequest,
  parseRating,
  aggregateMtBench,
} from './mt-bench.js';

export type {
  AlpacaEvalExample,
  ChatmlMessage,
  JudgeOrder,
  PairwiseJudgeRequest,
  PairToJudge,
  Verdict,
  JudgedComparison,
  ItemPreference,
  WinRateOptions,
  WinRateResult,
  LengthControlledOptions,
  LengthControlledResult,
} from './alpaca-eval.js';
export {
  JUDGE_ORDERS,
  ALPACA_EVAL_JUDGE_SAMPLING,
  GLM_CS,
  GLM_FOLDS,
  parseAlpacaEvalOutputs,
  alpacaEvalMessages,
  pairOutputs,
  renderAlpacaEvalTemplate,
  promptToChatml,
  buildPairwiseJudgeRequests,
  parseVerdict,
  preferenceFromLogprobs,
  itemPreference,
  charLength,
  winRate,
  fitL1SoftLogistic,
  lengthControlledWinRate,
  isExtremeChange,
} from './alpaca-eval.js';
