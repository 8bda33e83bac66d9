import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIni } from './ini.js';

const values = (text: string, section: string, key: string): string[] =>
  (parseIni(text).sections.get(section)?.entries.get(key) ?? []).map((v) => v.value);

describe('parseIni (oslo.config semantics)', () => {
  test('both separators; the first one on the line wins', () => {
    const text = '[DEFAULT]\na = 1\nb: 2\nc = x:y\nd: x=y\n';
    assert.deepEqual(values(text, 'DEFAULT', 'a'), ['1']);
    assert.deepEqual(values(text, 'DEFAULT', 'b'), ['2']);
    assert.deepEqual(values(text, 'DEFAULT', 'c'), ['x:y']);
    assert.deepEqual(values(text, 'DEFAULT', 'd'), ['x=y']);
  });

  test('comments only at the start of a line; no inline comments', () => {
    const text = '# a comment\n; another\n[g]\npassword = a;b#c\n';
    assert.deepEqual(values(text, 'g', 'password'), ['a;b#c']);
    assert.equal(parseIni(text).errors.length, 0);
  });

  test('matching quotes are stripped, unmatched ones kept', () => {
    const text = `[g]\na = "x y"\nb = 'z'\nc = "q'\nd = "\n`;
    assert.deepEqual(values(text, 'g', 'a'), ['x y']);
    assert.deepEqual(values(text, 'g', 'b'), ['z']);
    assert.deepEqual(values(text, 'g', 'c'), [`"q'`]);
    assert.deepEqual(values(text, 'g', 'd'), ['"']);
  });

  test('continuation lines join with newlines; a blank line ends the value', () => {
    const text = '[g]\nmodels = Penryn,\n  IvyBridge,\n\tHaswell\n\nnext = 1\n';
    assert.deepEqual(values(text, 'g', 'models'), ['Penryn,\nIvyBridge,\nHaswell']);
    assert.deepEqual(values(text, 'g', 'next'), ['1']);
  });

  test('repeated keys are all kept in order, with their lines', () => {
    const doc = parseIni('[g]\nk = 1\nk = 2\n[h]\n[g]\nk = 3\n');
    assert.deepEqual(doc.sections.get('g')?.entries.get('k'), [
      { value: '1', line: 2 },
      { value: '2', line: 3 },
      { value: '3', line: 6 },
    ]);
  });

  test('CRLF line ends and a byte-order mark are tolerated', () => {
    assert.deepEqual(values('\uFEFF[g]\r\na = 1\r\n', 'g', 'a'), ['1']);
  });

  test('syntax errors name the line and say what is wrong', () => {
    const doc = parseIni('[g]\njust words\n[broken\n= 3\n  orphan\n');
    assert.deepEqual(
      doc.errors.map((e) => e.line),
      [2, 3, 4, 5],
    );
    assert.match(doc.errors[0].message, /not "key = value"/);
    assert.match(doc.errors[1].message, /must end with "]"/);
    assert.match(doc.errors[2].message, /no option name/);
  });

  test('an indented line with nothing to continue is an error', () => {
    const doc = parseIni('[g]\n\n  orphan = 1\n');
    assert.equal(doc.errors.length, 1);
    assert.equal(doc.errors[0].line, 3);
  });

  test('options before any header are kept apart (section "")', () => {
    const doc = parseIni('virt_type = kvm\n[libvirt]\ncpu_mode = none\n');
    assert.deepEqual(values('virt_type = kvm\n', '', 'virt_type'), ['kvm']);
    assert.equal(doc.sections.get('libvirt')?.entries.has('virt_type'), false);
  });

  test('after a broken header, options do not land in the previous group', () => {
    const doc = parseIni('[libvirt]\n[oops\nvirt_type = xen\n');
    assert.equal(doc.sections.get('libvirt')?.entries.size, 0);
  });
});
