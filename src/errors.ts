/**
 * Failure types that cross Temporal, in one place. The permanent ones are listed in every retry policy's
 * nonRetryableErrorTypes, so a bad config or a bad seed file fails the run at once instead of retrying.
 */
export const ErrorType = {
  InvalidConfig: 'InvalidConfig',
  BadInput: 'BadInput',
  ModelLoad: 'ModelLoad',
  OutOfMemory: 'OutOfMemory',
  EngineCrashed: 'EngineCrashed',
  ArtifactMissing: 'ArtifactMissing',
  /** An artifact changed after it was written, or is not the JSONL it should be. */
  ArtifactCorrupt: 'ArtifactCorrupt',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Retrying these cannot help: the input has to change. */
export const PERMANENT_ERRORS: string[] = [ErrorType.InvalidConfig, ErrorType.BadInput, ErrorType.ModelLoad, ErrorType.ArtifactCorrupt];
