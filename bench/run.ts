// `npm run bench -- NAME [NAME …]`: runs bench/NAME.ts (each prints readable lines, then one
// `BENCH {json}` line last). Without a name it lists the benchmarks.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2);
if (names.length === 0) {
  console.log(`benchmarks: ${available.join(', ')}\nrun one: npm run bench -- NAME`);
  process.exit(0);
}
let failed = 0;
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`bench: no benchmark named ${name}; available: ${available.join(', ')}`);
    process.exit(2);
  }
  // Each benchmark runs in its own process so that one's heap and handles don't skew another.
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
