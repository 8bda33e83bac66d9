// docs/configuration.md is generated from the schema; this fails when someone changes an
// option and forgets `kestrel config docs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderConfigDocs } from '../../src/config/docs.js';
import { groupNames, schema } from '../../src/config/schema/index.js';

const docsPath = join(import.meta.dirname, '..', '..', 'docs', 'configuration.md');

test('docs/configuration.md matches the schema (run `kestrel config docs` to refresh it)', async () => {
  const committed = await readFile(docsPath, 'utf8');
  assert.ok(
    committed === renderConfigDocs(),
    'docs/configuration.md is stale: run `./bin/kestrel config docs`',
  );
});

test('the reference lists every option of every group with its default', () => {
  const text = renderConfigDocs();
  for (const g of groupNames)
    for (const option of Object.keys(schema[g].options))
      assert.match(text, new RegExp(`### \`\\[${g}\\] ${option}\`\\n`), `${g}.${option}`);
  assert.match(text, /`raw` is read as `flat`/);
  assert.match(text, /Refused .*: `xen`, `lxc`, `uml`, `parallels`/);
});
