import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MuteMatcher, muteMatcher, normalizeMutes, patternsMuting, toMuteEntry } from '../../src/domain/preferences.js';
import { HeraldError } from '../../src/errors.js';

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof HeraldError ? err.code : 'other';
  }
}

test('muted types are answered sorted with duplicates collapsed', () => {
  assert.deepEqual(normalizeMutes(['social.*', 'promo', 'promo', 'alert']), ['alert', 'promo', 'social.*']);
});

test('100 distinct muted types are accepted', () => {
  assert.equal(normalizeMutes(Array.from({ length: 100 }, (_, i) => `t${i}`)).length, 100);
});

test('101 distinct muted types are refused with too_many_mutes', () => {
  assert.equal(codeOf(() => normalizeMutes(Array.from({ length: 101 }, (_, i) => `t${i}`))), 'too_many_mutes');
});

test('duplicates do not count towards the limit of 100', () => {
  assert.equal(normalizeMutes([...Array.from({ length: 100 }, (_, i) => `t${i}`), 't0']).length, 100);
});

test('an entry with characters no type has is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes(['Promo'])), 'invalid_mute_pattern');
});

test('a bare wildcard is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes(['*'])), 'invalid_mute_pattern');
});

test('a wildcard not after a dot is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes(['social*'])), 'invalid_mute_pattern');
});

test('an entry longer than a type may be is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes(['a'.repeat(65)])), 'invalid_mute_pattern');
});

test('an empty entry is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes([''])), 'invalid_mute_pattern');
});

test('a non-string entry is refused with invalid_mute_pattern', () => {
  assert.equal(codeOf(() => normalizeMutes([42])), 'invalid_mute_pattern');
});

test('a prefix entry is stored with the text a muted type starts with', () => {
  assert.deepEqual(toMuteEntry('social.*'), { pattern: 'social.*', prefix: 'social.' });
  assert.deepEqual(toMuteEntry('promo'), { pattern: 'promo', prefix: null });
});

test('the entries muting a type are the type and a prefix at each of its dots', () => {
  assert.deepEqual(patternsMuting('a.b_c.d'), ['a.b_c.d', 'a.*', 'a.b_c.*']);
  assert.deepEqual(patternsMuting('promo'), ['promo']);
});

test('a type entry mutes exactly that type', () => {
  const matcher = new MuteMatcher(['promo']);
  assert.equal(matcher.mutes('promo'), true);
  assert.equal(matcher.mutes('promo.x'), false);
  assert.equal(matcher.mutes('promos'), false);
});

test('a prefix entry mutes the types under it, not the bare prefix nor look-alikes', () => {
  const matcher = new MuteMatcher(['social.*']);
  assert.equal(matcher.mutes('social.like'), true);
  assert.equal(matcher.mutes('social.follow.new'), true);
  assert.equal(matcher.mutes('social'), false);
  assert.equal(matcher.mutes('socialx.like'), false);
});

test('no entries give no matcher, so the fan-out checks a null', () => {
  assert.equal(muteMatcher([]), null);
  assert.ok(muteMatcher(['promo']) instanceof MuteMatcher);
});
