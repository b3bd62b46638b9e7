/**
 * Which PutEvents failures are worth sending again (see the retry rules in reliable.ts): per-entry error
 * codes, whole-call errors, and the `fatal` errors that stand for the death of the process.
 */
/** EventBridge's PutEvents limit on entries per call. */
export const MAX_ENTRIES_PER_PUT_EVENTS = 10;

/** Per-entry codes retried with backoff. */
export const RETRYABLE_ENTRY_CODES: ReadonlySet<string> = new Set([
  'InternalFailure',
  'ThrottlingException',
  'MissingResult',
]);

/** Per-entry codes that can never succeed for this entry: the event is dead-lettered. */
export const NON_RETRYABLE_ENTRY_CODES: ReadonlySet<string> = new Set([
  'MalformedDetail',
  'InvalidArgument',
  'InvalidArgumentException',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidAccountIdException',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
  'ValidationException',
]);

/** True unless the code is a known permanent failure (unknown codes are retried, see the header). */
export function isRetryableEntryCode(code: string): boolean {
  if (NON_RETRYABLE_ENTRY_CODES.has(code)) return false;
  if (code.endsWith('ValidationException') || code.startsWith('NotAuthorized')) return false;
  return true;
}

const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly fatal?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

function errorShape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

/** An error marked `fatal: true` stands for the death of the process: it is never retried or recorded. */
export function isFatalError(error: unknown): boolean {
  return errorShape(error).fatal === true;
}

/** The code recorded for a failed call: the error's name (e.g. `ThrottlingException`, `TimeoutError`). */
export function callErrorCode(error: unknown): string {
  const name = errorShape(error).name;
  return typeof name === 'string' && name.length > 0 ? name : 'UnknownError';
}

/** Whether a rejected PutEvents call is worth sending again (network, throttling and 5xx are). */
export function isRetryableCallError(error: unknown): boolean {
  const shape = errorShape(error);
  if (shape.$retryable !== undefined && shape.$retryable !== null) return true;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
  if (THROTTLING_ERROR_NAMES.has(callErrorCode(error))) return true;
  return shape.$fault !== 'client';
}

/** The message of an error, for logs and failure reasons. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
