#!/usr/bin/env node
// Runs every test file (src/**/*.test.ts and test/**/*.test.ts) with node:test through tsx.
// Node 20 has no glob for --test and cannot strip types, hence this small runner.
//   node scripts/run-tests.mjs [substring ...]   only the files whose path contains a substring
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
let files = ['src', 'test'].flatMap((d) => (existsSync(d) ? walk(d, []) : [])).sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
// Files named *.serial.test.ts disturb shared daemons (they restart libvirtd, say): they run
// after the others, one at a time. Each phase's summary is added up into one closing line.
const env = { ...process.env, KESTREL_LOG_LEVEL: process.env.KESTREL_LOG_LEVEL ?? 'silent' };
const phases = [
  { files: files.filter((f) => !f.endsWith('.serial.test.ts')), concurrency: 2 },
  { files: files.filter((f) => f.endsWith('.serial.test.ts')), concurrency: 1 },
];
const totals = { pass: 0, fail: 0, skipped: 0 };
let status = 0;
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const args = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${phase.concurrency}`,
    '--test-reporter=spec',
  ];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...phase.files], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    // The runner's own summary lines (`ℹ pass N` at the start of a line), read as they stream:
    // the failure listing that follows them can be far longer than any fixed tail.
    const seen = {};
    let partial = '';
    child.stdout.setEncoding('utf8'); // a character split across chunks stays whole
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ℹ (pass|fail|skipped) (\d+)\s*$/.exec(line);
        if (m) seen[m[1]] = Number(m[2]);
      }
    });
    child.on('close', (c) => {
      for (const key of Object.keys(totals)) totals[key] += seen[key] ?? 0;
      resolve(c ?? 1);
    });
  });
  if (code !== 0) status = code;
}
console.log(`\nkestrel: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(status);
