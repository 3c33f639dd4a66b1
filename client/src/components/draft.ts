import { MAX_TEXT_LENGTH } from '../../../shared/wire/content';

/** Remaining characters at which the composer starts showing a counter. */
export const COUNTER_THRESHOLD = 500;

/** Reason a draft cannot be sent. */
export type DraftProblem = 'empty' | 'too-long';

export interface DraftCheck {
  /** Undefined when the draft can be sent. */
  readonly problem: DraftProblem | undefined;
  /** Characters left before the limit; negative when over it. */
  readonly remaining: number;
  /** True once the draft is near or over the limit. */
  readonly showCounter: boolean;
}

/**
 * Checks a draft against the message limit, counted in UTF-16 code units
 * like `MAX_TEXT_LENGTH`. A draft of whitespace alone counts as empty.
 */
export function checkDraft(
  draft: string,
  maxLength: number = MAX_TEXT_LENGTH,
): DraftCheck {
  const remaining = maxLength - draft.length;
  let problem: DraftProblem | undefined;
  if (draft.trim() === '') problem = 'empty';
  else if (remaining < 0) problem = 'too-long';
  return { problem, remaining, showCounter: remaining <= COUNTER_THRESHOLD };
}

/** Returns the counter text, such as "120 characters left". */
export function counterText(remaining: number): string {
  if (remaining >= 0) {
    return remaining === 1
      ? '1 character left'
      : `${remaining} characters left`;
  }
  const over = -remaining;
  return over === 1 ? '1 character too many' : `${over} characters too many`;
}

/** Returns the hint shown after a send attempt that was blocked. */
export function problemText(
  problem: DraftProblem,
  maxLength: number = MAX_TEXT_LENGTH,
): string {
  if (problem === 'empty') return 'Type a message first.';
  return (
    `Messages can have at most ${maxLength} characters. ` +
    'Shorten this one to send it.'
  );
}
