// FileImageStore: streaming upload with checksums, inspection, atomic rename; refused,
// interrupted and oversized uploads leave nothing behind; uploads run in parallel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileImageStore } from '../../src/images/store/file.js';
import {
  ImageAlreadyStoredError,
  ImageNotFoundError,
  ImageRefusedError,
  ImageTooLargeError,
  ImageUploadInterruptedError,
} from '../../src/images/errors.js';
import { makeFixtures, type FixtureSet } from './fixtures.js';

let fx: FixtureSet;
let root: string;
before(async () => {
  fx = await makeFixtures();
  root = await mkdtemp(join(tmpdir(), 'kt-images-store-'));
});
after(async () => {
  await fx.cleanup();
  await rm(root, { recursive: true, force: true });
});

const fixture = (name: string): string => {
  const f = [...fx.benign, ...fx.hostile].find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f.path;
};

async function newStore(): Promise<FileImageStore> {
  return new FileImageStore({ directory: await mkdtemp(join(root, 'store-')) });
}

async function streamToBuffer(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('FileImageStore', () => {
  test('put stores the data with MD5, SHA-512, size, format and virtual size; get returns it', async () => {
    const store = await newStore();
    const path = fixture('qcow2 v3 with data');
    const bytes = await readFile(path);
    const facts = await store.put('img-1', createReadStream(path), { declaredFormat: 'qcow2' });
    assert.equal(facts.size, bytes.length);
    assert.equal(facts.checksum, createHash('md5').update(bytes).digest('hex'));
    assert.equal(facts.osHashAlgo, 'sha512');
    assert.equal(facts.osHashValue, createHash('sha512').update(bytes).digest('hex'));
    assert.equal(facts.detectedFormat, 'qcow2');
    assert.equal(facts.virtualSize, 8 * 1024 * 1024);
    assert.equal(facts.location, `file://${join(store.directory, 'img-1')}`);
    assert.equal(store.localPath('img-1'), join(store.directory, 'img-1'));
    assert.equal(await store.exists('img-1'), true);
    assert.ok((await streamToBuffer(await store.get('img-1'))).equals(bytes));
    await assert.rejects(
      store.put('img-1', createReadStream(path), { declaredFormat: 'qcow2' }),
      ImageAlreadyStoredError,
    );
    await store.delete('img-1');
    await store.delete('img-1'); // idempotent
    assert.equal(await store.exists('img-1'), false);
    await assert.rejects(store.get('img-1'), ImageNotFoundError);
    assert.deepEqual(await readdir(store.directory), []);
  });

  test('a refused upload leaves nothing, and names the reason', async () => {
    const store = await newStore();
    for (const [name, declared] of [
      ['qcow2 backing file on a host file', 'qcow2'],
      ['vmdk monolithicSparse with a second extent', 'vmdk'],
      ['qcow2 v3', 'raw'],
    ] as const) {
      const err = await store
        .put('bad', createReadStream(fixture(name)), { declaredFormat: declared })
        .catch((e: unknown) => e);
      assert.ok(err instanceof ImageRefusedError, `${name}: ${String(err)}`);
      assert.ok(err.findings.length > 0);
      assert.ok(!err.message.includes(fx.secretContent));
    }
    assert.equal(await store.exists('bad'), false);
    assert.deepEqual(await readdir(store.directory), []);
  });

  test('an interrupted stream leaves nothing', async () => {
    const store = await newStore();
    async function* broken(): AsyncGenerator<Buffer> {
      yield randomBytes(65536);
      yield randomBytes(65536);
      throw new Error('client went away');
    }
    await assert.rejects(
      store.put('cut', Readable.from(broken()), { declaredFormat: 'raw' }),
      ImageUploadInterruptedError,
    );
    assert.deepEqual(await readdir(store.directory), []);
  });

  test('maxSize stops the stream early and leaves nothing', async () => {
    const store = await newStore();
    let produced = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        produced += 65536;
        yield Buffer.alloc(65536, 1);
        if (produced > 64 * 1024 * 1024) return; // the store must stop well before this
      }
    }
    await assert.rejects(
      store.put('huge', Readable.from(endless()), { declaredFormat: 'raw', maxSize: 1024 * 1024 }),
      ImageTooLargeError,
    );
    assert.ok(produced < 8 * 1024 * 1024, `read ${produced} bytes past a 1 MiB limit`);
    assert.deepEqual(await readdir(store.directory), []);
  });

  test('uploads of different images run in parallel', async () => {
    const store = await newStore();
    // Each stream records when its chunks are pulled: if the store serialized uploads, one
    // stream would finish before the other started.
    const events: string[] = [];
    const slow = (tag: string): Readable =>
      Readable.from(
        (async function* () {
          for (let i = 0; i < 4; i++) {
            events.push(`${tag}${i}`);
            await new Promise((r) => setTimeout(r, 50));
            yield Buffer.alloc(4096, i + 1);
          }
        })(),
      );
    const [a, b] = await Promise.all([
      store.put('par-a', slow('a'), { declaredFormat: 'raw' }),
      store.put('par-b', slow('b'), { declaredFormat: 'raw' }),
    ]);
    assert.equal(a.size, 16384);
    assert.equal(b.size, 16384);
    assert.ok(
      events.indexOf('b0') < events.indexOf('a3') && events.indexOf('a0') < events.indexOf('b3'),
      events.join(' '),
    );
  });

  test('ids that are paths are refused', async () => {
    const store = await newStore();
    await assert.rejects(
      store.put('../escape', Readable.from([Buffer.alloc(1)]), { declaredFormat: 'raw' }),
      /not a valid id/,
    );
    assert.throws(() => store.localPath('a/b'), /not a valid id/);
  });

  test('sweepPartials removes part files a crash left', async () => {
    const store = await newStore();
    await store.put('keep', Readable.from([Buffer.alloc(512)]), { declaredFormat: 'raw' });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(store.directory, 'x.abc.part'), 'partial');
    assert.deepEqual(await store.sweepPartials(), ['x.abc.part']);
    assert.deepEqual(await readdir(store.directory), ['keep']);
  });
});
