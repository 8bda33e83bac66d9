import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, nearest } from './suggest.js';

test('editDistance counts insertions, deletions and substitutions', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('virt_typo', 'virt_type'), 1);
  assert.equal(editDistance('modles', 'models'), 1);
});

test('nearest suggests only plausible typos', () => {
  const names = ['virt_type', 'cpu_mode', 'cpu_models', 'images_type'];
  assert.equal(nearest('virt_typo', names), 'virt_type');
  assert.equal(nearest('CPU_MODLES', names), 'cpu_models');
  assert.equal(nearest('transport_url', names), null);
});
