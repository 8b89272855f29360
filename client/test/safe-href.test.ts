// The link <herald-inbox> hands the host for a notification's data.url (detail.href).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllowedOrigins, safeHref, safeHttpsHref } from '../src/element/safe-href.js';

const PAGE = 'https://app.example.com/dashboard/';

test('a javascript: URL gives no href', () => {
  assert.equal(safeHref('javascript:alert(document.cookie)', PAGE, null), undefined);
});

test('javascript: with mixed case, spaces and a tab gives no href', () => {
  assert.equal(safeHref(' JaVa\tScRiPt:alert(1)', PAGE, null), undefined);
});

test('a data: URL gives no href', () => {
  assert.equal(safeHref('data:text/html,<script>alert(1)</script>', PAGE, null), undefined);
});

test('a file: URL gives no href', () => {
  assert.equal(safeHref('file:///etc/passwd', PAGE, null), undefined);
});

test('a relative URL is resolved against the page', () => {
  assert.equal(safeHref('/projects/42', PAGE, null), 'https://app.example.com/projects/42');
});

test('an absolute https URL on another origin passes when the host allows any origin', () => {
  assert.equal(safeHref('https://docs.example.org/x', PAGE, null), 'https://docs.example.org/x');
});

test('a protocol-relative URL to another origin is refused when only self is allowed', () => {
  assert.equal(safeHref('//evil.example/phish', PAGE, ['self']), undefined);
});

test('an https URL to an origin outside allowed-origins gives no href (no open redirect)', () => {
  assert.equal(safeHref('https://evil.example/phish', PAGE, parseAllowedOrigins('self https://docs.example.org')), undefined);
});

test('an https URL to a listed origin passes', () => {
  assert.equal(safeHref('https://docs.example.org/a?b=1', PAGE, parseAllowedOrigins('self, https://docs.example.org/')), 'https://docs.example.org/a?b=1');
});

test('a non-string data.url gives no href', () => {
  assert.equal(safeHref({ toString: () => 'javascript:1' }, PAGE, null), undefined);
});

test('an unparsable URL gives no href', () => {
  assert.equal(safeHref('http://[::1', PAGE, null), undefined);
});

// safeHttpsHref: the addresses <herald-inbox> draws itself (action links, avatars).

test('an http URL is no action link or avatar', () => {
  assert.equal(safeHttpsHref('http://app.example.com/x', PAGE, null), undefined);
});

test('a relative URL on an https page becomes an https action link', () => {
  assert.equal(safeHttpsHref('/projects/42', PAGE, null), 'https://app.example.com/projects/42');
});

test('a relative URL on an http page is no action link', () => {
  assert.equal(safeHttpsHref('/projects/42', 'http://127.0.0.1:3000/', null), undefined);
});

test('an https URL with a user name is refused (https://bank.example@evil.example reads as the bank)', () => {
  assert.equal(safeHttpsHref('https://bank.example@evil.example/login', PAGE, null), undefined);
});

test('a javascript: URL is no action link', () => {
  assert.equal(safeHttpsHref('javascript:alert(1)', PAGE, null), undefined);
});

test('an https action link outside allowed-origins is refused', () => {
  assert.equal(safeHttpsHref('https://evil.example/x', PAGE, ['self']), undefined);
});
