import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Revert, withRevert } from './revert.js';
import { KeyedMutex } from './lock.js';
import { run, runChecked } from './run.js';

test('revert undoes steps newest first and keeps going past a failing undo', async () => {
  const order: string[] = [];
  const r = new Revert();
  r.add('a', () => void order.push('a'));
  r.add('b', () => {
    throw new Error('b broke');
  });
  r.add('c', async () => void order.push('c'));
  const failures = await r.fail();
  assert.deepEqual(order, ['c', 'a']);
  assert.equal(failures.length, 1);
  assert.equal(failures[0].label, 'b');
});

test('withRevert clears the stack on success and undoes on failure', async () => {
  const undone: string[] = [];
  await withRevert(async (r) => r.add('x', () => void undone.push('x')));
  assert.equal(undone.length, 0);
  await assert.rejects(
    withRevert<void>(async (r) => {
      r.add('y', () => void undone.push('y'));
      throw new Error('step 2 failed');
    }),
    /step 2 failed/,
  );
  assert.deepEqual(undone, ['y']);
});

test('keyed mutex serializes one key and lets others run', async () => {
  const m = new KeyedMutex();
  const log: string[] = [];
  const slow = (tag: string, ms: number) =>
    new Promise<void>((res) =>
      setTimeout(() => {
        log.push(tag);
        res();
      }, ms),
    );
  await Promise.all([
    m.run('a', () => slow('a1', 30)),
    m.run('a', () => slow('a2', 1)),
    m.run('b', () => slow('b1', 5)),
  ]);
  assert.deepEqual(log, ['b1', 'a1', 'a2']);
  assert.equal(m.size, 0);
});

test('run passes arguments without a shell and reports failures', async () => {
  const r = await run(['printf', '%s', 'a; rm -rf / $(x)']);
  assert.equal(r.stdout, 'a; rm -rf / $(x)');
  await assert.rejects(runChecked(['false']), /false failed \(exit 1\)/);
  await assert.rejects(runChecked(['sleep', '5'], { timeoutMs: 100 }), /timed out/);
  await assert.rejects(run(['/nonexistent/cmd']), /nonexistent/);
  const limited = await run(['sh', '-c', 'ulimit -t'], { limits: { cpuSeconds: 7 } });
  assert.equal(limited.stdout.trim(), '7');
});
