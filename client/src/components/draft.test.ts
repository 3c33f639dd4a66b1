import { describe, expect, it } from 'vitest';
import { MAX_TEXT_LENGTH } from '../../../shared/wire/content';
import {
  checkDraft,
  COUNTER_THRESHOLD,
  counterText,
  problemText,
} from './draft';

describe('checkDraft', () => {
  it('accepts a short message', () => {
    expect(checkDraft('hello')).toEqual({
      problem: undefined,
      remaining: MAX_TEXT_LENGTH - 5,
      showCounter: false,
    });
  });

  it('treats whitespace alone as empty', () => {
    expect(checkDraft(' \n\t ').problem).toBe('empty');
    expect(checkDraft('').problem).toBe('empty');
  });

  it('shows the counter near the limit', () => {
    const below = 'x'.repeat(MAX_TEXT_LENGTH - COUNTER_THRESHOLD - 1);
    const near = 'x'.repeat(MAX_TEXT_LENGTH - COUNTER_THRESHOLD);
    expect(checkDraft(below).showCounter).toBe(false);
    expect(checkDraft(near).showCounter).toBe(true);
  });

  it('accepts exactly the limit', () => {
    const check = checkDraft('x'.repeat(MAX_TEXT_LENGTH));
    expect(check.problem).toBeUndefined();
    expect(check.remaining).toBe(0);
  });

  it('blocks a message over the limit', () => {
    const check = checkDraft('x'.repeat(MAX_TEXT_LENGTH + 2));
    expect(check.problem).toBe('too-long');
    expect(check.remaining).toBe(-2);
    expect(check.showCounter).toBe(true);
  });

  it('counts UTF-16 code units', () => {
    // One emoji is two code units, as the relay's schema counts them.
    expect(checkDraft('😀', 1).problem).toBe('too-long');
  });
});

describe('draft texts', () => {
  it('names the remaining and excess characters', () => {
    expect(counterText(1)).toBe('1 character left');
    expect(counterText(120)).toBe('120 characters left');
    expect(counterText(-1)).toBe('1 character too many');
    expect(counterText(-30)).toBe('30 characters too many');
  });

  it('names the limit when too long', () => {
    expect(problemText('too-long')).toContain(String(MAX_TEXT_LENGTH));
  });
});
