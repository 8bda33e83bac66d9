#!/usr/bin/env node
// Runs every test file (src/**/*.test.ts and test/**/*.test.ts) with node:test through tsx.
// Node 20 has no glob for --test and cannot strip types, hence this small runner.
//   node scripts/run-tests.mjs [substring ...]   only the files whose path contains a substring
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files];
const r = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, KESTREL_LOG_LEVEL: process.env.KESTREL_LOG_LEVEL ?? 'silent' },
});
process.exit(r.status ?? 1);
