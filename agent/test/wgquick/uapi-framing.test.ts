import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError } from '@meshguard/core';
import {
  formatUapiRequest,
  formatUapiResponse,
  MAX_UAPI_MESSAGE_BYTES,
  takeUapiRequest,
  takeUapiResponse,
  UAPI_ERRNO,
  type UapiRequest,
  type UapiResponse,
} from '../../src/wgquick/uapi-framing.js';
import { assertDecodeError, decodesOrRejects } from '../swim/spec-fixtures.js';

const arbLine = fc.stringMatching(/^[a-z_]{1,12}=[ -~]{0,20}$/);
const arbRequest: fc.Arbitrary<UapiRequest> = fc.oneof(
  fc.constant({ command: 'get' as const }),
  fc.array(arbLine, { maxLength: 6 }).map((lines): UapiRequest => ({ command: 'set', lines })),
);
const arbResponse: fc.Arbitrary<UapiResponse> = fc
  .tuple(fc.array(arbLine, { maxLength: 6 }), fc.integer({ min: -0x7fffffff, max: 0x7fffffff }))
  .map(([lines, errno]) => ({ lines, errno }));

test('get=1 is the command and an empty line; anything between is refused, as wireguard-go does', () => {
  assert.deepEqual(takeUapiRequest('get=1\n\n'), { message: { command: 'get' }, rest: '' });
  assert.deepEqual(takeUapiRequest('get=1\n\nget=1\n'), { message: { command: 'get' }, rest: 'get=1\n' });
  assert.equal(takeUapiRequest(''), null);
  assert.equal(takeUapiRequest('get=1'), null);
  assert.equal(takeUapiRequest('get=1\n'), null);
  assertDecodeError(() => takeUapiRequest('get=1\nx\n\n'), /must be followed by an empty line/);
  assertDecodeError(() => takeUapiRequest('get=2\n\n'), /unknown command "get=2"/);
  assertDecodeError(() => takeUapiRequest('\n'), /unknown command ""/);
});

test('set=1 runs to the first empty line; the rest is the next request', () => {
  const taken = takeUapiRequest('set=1\nlisten_port=1\nfwmark=2\n\nget=1\n\n');
  assert.deepEqual(taken, {
    message: { command: 'set', lines: ['listen_port=1', 'fwmark=2'] },
    rest: 'get=1\n\n',
  });
  assert.deepEqual(takeUapiRequest('set=1\n\n'), { message: { command: 'set', lines: [] }, rest: '' });
  assert.equal(takeUapiRequest('set=1\nlisten_port=1\n'), null);
  assert.equal(takeUapiRequest('set=1\nlisten_po'), null);
  assertDecodeError(() => takeUapiRequest('set=1\nlisten_port=\u00e9\n\n'), /line 1 is not printable ASCII/);
  assertDecodeError(() => takeUapiRequest('set=1\na=\tb\n\n'), /not printable ASCII/);
});

test('a peer that never ends its message cannot grow the buffer without bound', () => {
  const big = 'x'.repeat(MAX_UAPI_MESSAGE_BYTES + 1);
  assertDecodeError(() => takeUapiRequest(big), /larger than/);
  assertDecodeError(() => takeUapiRequest(`set=1\n${big}`), /larger than/);
  assertDecodeError(() => takeUapiRequest(`set=1\n${big}\n`), /larger than/);
  assertDecodeError(() => takeUapiResponse(`${big}\n`), /larger than/);
  assert.equal(takeUapiRequest(`set=1\n${'a=b\n'.repeat(1000)}`), null);
});

test('responses end with errno=N and an empty line; errno may be negative', () => {
  assert.deepEqual(takeUapiResponse('errno=0\n\n'), { message: { lines: [], errno: 0 }, rest: '' });
  assert.deepEqual(takeUapiResponse('listen_port=5\nerrno=0\n\nerrno=-22\n\n'), {
    message: { lines: ['listen_port=5'], errno: 0 },
    rest: 'errno=-22\n\n',
  });
  assert.deepEqual(takeUapiResponse('errno=-22\n\n')?.message, { lines: [], errno: UAPI_ERRNO.invalid });
  assert.equal(takeUapiResponse('errno=0\n'), null);
  assert.equal(takeUapiResponse('listen_port=5\n'), null);
  assertDecodeError(() => takeUapiResponse('\n'), /does not end with errno=N/);
  assertDecodeError(() => takeUapiResponse('listen_port=5\n\n'), /does not end with errno=N/);
  assertDecodeError(() => takeUapiResponse('errno=x\n\n'), /errno=N/);
  assertDecodeError(() => takeUapiResponse('errno=-0\n\n'), /errno=N/);
  assertDecodeError(() => takeUapiResponse('errno=007\n\n'), /errno=N/);
  assertDecodeError(() => takeUapiResponse('errno=9999999999\n\n'), /errno out of range/);
});

test('formatters write the framing and refuse lines that would break it', () => {
  assert.equal(formatUapiRequest({ command: 'get' }), 'get=1\n\n');
  assert.equal(formatUapiRequest({ command: 'set', lines: ['a=b'] }), 'set=1\na=b\n\n');
  assert.equal(formatUapiResponse({ lines: [], errno: UAPI_ERRNO.invalid }), 'errno=-22\n\n');
  assert.equal(formatUapiResponse({ lines: ['listen_port=1'], errno: 0 }), 'listen_port=1\nerrno=0\n\n');
  assert.throws(() => formatUapiRequest({ command: 'set', lines: [''] }), ArgumentError);
  assert.throws(() => formatUapiRequest({ command: 'set', lines: ['a=b\n\nget=1'] }), ArgumentError);
  assert.throws(() => formatUapiResponse({ lines: ['a=\u00e9'], errno: 0 }), ArgumentError);
  assert.throws(() => formatUapiResponse({ lines: [], errno: 0.5 }), ArgumentError);
  assert.throws(() => formatUapiResponse({ lines: [], errno: 2 ** 31 }), ArgumentError);
});

test('round trip, whole and split at any point: take(format(m)) is m, and a prefix is "not yet"', () => {
  fc.assert(
    fc.property(arbRequest, arbRequest, fc.nat(), (first, second, cut) => {
      const text = formatUapiRequest(first) + formatUapiRequest(second);
      const one = takeUapiRequest(text);
      assert.ok(one !== null);
      assert.deepEqual(one.message, first);
      assert.deepEqual(takeUapiRequest(one.rest), { message: second, rest: '' });
      const end = formatUapiRequest(first).length;
      assert.equal(takeUapiRequest(text.slice(0, cut % end)), null);
    }),
  );
  fc.assert(
    fc.property(arbResponse, fc.nat(), (response, cut) => {
      const text = formatUapiResponse(response);
      assert.deepEqual(takeUapiResponse(text), { message: response, rest: '' });
      assert.equal(takeUapiResponse(text.slice(0, cut % text.length)), null);
    }),
  );
});

test('any text frames to a message, "not yet", or a DecodeError', () => {
  const arbText = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc
      .array(fc.constantFrom('get=1', 'set=1', 'errno=0', 'errno=-22', 'a=b', '', 'x', '\u00ff'), { maxLength: 8 })
      .map((l) => l.join('\n')),
  );
  fc.assert(
    fc.property(arbText, (text) => {
      assert.ok(decodesOrRejects(() => takeUapiRequest(text)));
      assert.ok(decodesOrRejects(() => takeUapiResponse(text)));
    }),
  );
});
