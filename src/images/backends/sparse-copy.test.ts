import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copySparse } from './sparse-copy.js';

test('copySparse keeps data that ends in a partial 64 KiB block (a 512-byte boot sector; 64 KiB + 3)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kt-images-sparse-'));
  try {
    for (const size of [512, 64 * 1024 + 3, 3 * 64 * 1024]) {
      const data = Buffer.alloc(size);
      data[0] = 0xfa;
      data[size - 1] = 0x55;
      const src = join(dir, `src-${size}`);
      await writeFile(src, data);
      await copySparse(src, join(dir, `dst-${size}`));
      assert.ok((await readFile(join(dir, `dst-${size}`))).equals(data), `copy of ${size} bytes`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
