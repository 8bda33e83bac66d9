import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

test('copySparse turns zero blocks into holes and never overwrites an existing file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kt-images-sparse-'));
  try {
    const data = Buffer.alloc(8 * 1024 * 1024); // 8 MiB written out, zeros but 4 KiB in the middle
    data.fill(7, 4 * 1024 * 1024, 4 * 1024 * 1024 + 4096);
    const src = join(dir, 'src');
    await writeFile(src, data);
    const dst = join(dir, 'dst');
    await copySparse(src, dst);
    assert.ok((await readFile(dst)).equals(data));
    const st = await stat(dst);
    assert.ok(st.blocks * 512 <= 64 * 1024, `the copy allocated ${st.blocks * 512} bytes`);
    await writeFile(dst, 'mine');
    await assert.rejects(copySparse(src, dst), { code: 'EEXIST' });
    assert.equal(await readFile(dst, 'utf8'), 'mine');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('copySparse of a missing source fails naming cp and leaves no destination', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kt-images-sparse-'));
  try {
    await assert.rejects(copySparse(join(dir, 'nope'), join(dir, 'dst')), /cp failed.*nope/s);
    await assert.rejects(stat(join(dir, 'dst')), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
