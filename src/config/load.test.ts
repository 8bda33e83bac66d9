import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, MAX_CONFIG_BYTES } from './load.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('loadConfig: where the file comes from', () => {
  test('--config wins over KESTREL_CONFIG', async () => {
    const a = await file('a.conf', '[libvirt]\nvirt_type = kvm\n');
    const b = await file('b.conf', '[libvirt]\nvirt_type = qemu\n');
    const r = await loadConfig({ path: a, env: { KESTREL_CONFIG: b } });
    assert.equal(r.source, a);
    assert.equal(r.config.libvirt.virt_type, 'kvm');
    const viaEnv = await loadConfig({ env: { KESTREL_CONFIG: b } });
    assert.equal(viaEnv.source, b);
    assert.equal(viaEnv.config.libvirt.virt_type, 'qemu');
  });
  test('problems carry the file name and line', async () => {
    const p = await file('bad.conf', '[libvirt]\n\nvirt_type = xen\n');
    const r = await loadConfig({ path: p });
    assert.equal(r.errors[0].file, p);
    assert.equal(r.errors[0].line, 3);
  });
});

describe('loadConfig: unusable files are errors, never exceptions', () => {
  const oneError = async (path: string, pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> => {
    const r = await loadConfig({ path, env });
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    assert.equal(r.errors[0].file, path);
    assert.match(r.errors[0].message, pattern);
    assert.equal(r.config.libvirt.virt_type, 'auto', 'falls back to defaults so callers can still report');
  };
  test('a missing file given explicitly', async () => {
    await oneError(join(dir, 'nope.conf'), /does not exist \(given by --config\)/);
    const r = await loadConfig({ env: { KESTREL_CONFIG: join(dir, 'nope.conf') } });
    assert.match(r.errors[0].message, /given by KESTREL_CONFIG/);
  });
  test('a directory', async () => {
    await oneError(dir, /is a directory/);
  });
  test('binary garbage', async () => {
    await oneError(await file('bin.conf', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2])), /NUL bytes/);
  });
  test('not UTF-8', async () => {
    await oneError(
      await file('latin1.conf', Buffer.from([0x5b, 0x67, 0x5d, 0x0a, 0x61, 0x3d, 0xe9, 0x0a])),
      /not UTF-8/,
    );
  });
  test('a huge file', async () => {
    await oneError(await file('huge.conf', `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`), /larger than/);
  });
  test('an unreadable file', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async () => {
    const p = await file('secret.conf', '[DEFAULT]\n');
    await chmod(p, 0);
    await oneError(p, /permission denied/);
  });
});
