import { test } from 'node:test';
import assert from 'node:assert/strict';
import { padToPowerOfTwo, powerOfTwoChunks } from './chunks.ts';

test('rows are cut into power-of-two chunks, largest first, in their order, none over the limit', () => {
  const rows = Array.from({ length: 44 }, (_, i) => i);
  const chunks = powerOfTwoChunks(rows);
  assert.deepEqual(chunks.map((c) => c.length), [32, 8, 4]);
  assert.deepEqual(chunks.flat(), rows);
  assert.deepEqual(powerOfTwoChunks(Array.from({ length: 600 }, (_, i) => i), 256).map((c) => c.length), [256, 256, 64, 16, 8]);
  assert.deepEqual(powerOfTwoChunks([]), []);
});

test('an IN list is padded to a power of two with its last value', () => {
  assert.deepEqual(padToPowerOfTwo(['a', 'b', 'c']), ['a', 'b', 'c', 'c']);
  assert.deepEqual(padToPowerOfTwo(['a']), ['a']);
  assert.deepEqual(padToPowerOfTwo([]), []);
  assert.equal(padToPowerOfTwo(Array.from({ length: 33 }, (_, i) => i)).length, 64);
});
