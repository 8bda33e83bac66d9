// The inspector against real images: every benign format is accepted and agrees with
// qemu-img; every hostile one is refused for its named reason, without qemu-img ever being
// called, and the secret host file's content never shows up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { checkImage, inspectImage } from '../../src/images/inspect/index.js';
import { qemuImgInfo } from '../../src/images/qemu-img.js';
import { registerImageCommands } from '../../src/cli/commands/image.js';
import { makeFixtures, type FixtureSet } from './fixtures.js';

let fx: FixtureSet;
before(async () => {
  fx = await makeFixtures();
});
after(async () => {
  await fx.cleanup();
});

describe('benign images', () => {
  test('every format is detected, accepted, and agrees with qemu-img', async () => {
    assert.ok(fx.benign.length >= 14);
    for (const b of fx.benign) {
      const r = await checkImage(b.path);
      assert.equal(r.format, b.format, b.name);
      assert.deepEqual(r.findings, [], `${b.name}: ${JSON.stringify(r.findings)}`);
      assert.equal(r.safe, true, b.name);
      for (const [k, v] of Object.entries(b.details ?? {})) assert.equal(r.details[k], v, `${b.name} ${k}`);
      const q = await qemuImgInfo(b.path, b.format);
      if (b.format !== 'iso') assert.equal(r.virtualSize, q['virtual-size'], `${b.name} virtual size`);
      assert.equal(r.actualSize, q['actual-size'], `${b.name} actual size`);
    }
  });

  test('the detected format counts as declared, and a matching declaration is accepted', async () => {
    const qcow2 = fx.benign.find((b) => b.name === 'qcow2 v3')!;
    assert.equal((await inspectImage(qcow2.path)).declaredFormat, 'qcow2');
    assert.equal((await inspectImage(qcow2.path, { declaredFormat: 'qcow2' })).safe, true);
    const gpt = fx.benign.find((b) => b.name === 'raw with GPT')!;
    assert.equal((await inspectImage(gpt.path, { declaredFormat: 'raw' })).safe, true);
  });
});

describe('hostile images', () => {
  test('each is refused for its reason, before qemu-img is ever called', async () => {
    assert.ok(fx.hostile.length >= 20);
    for (const h of fx.hostile) {
      let qemuCalls = 0;
      const r = await checkImage(h.path, {
        declaredFormat: h.declared,
        maxVirtualSize: h.maxVirtualSize,
        qemuImgInfo: () => {
          qemuCalls++;
          return Promise.reject(new Error('qemu-img must not run on a refused image'));
        },
      });
      assert.equal(r.safe, false, h.name);
      assert.ok(
        r.findings.some((f) => f.code === h.refusedFor),
        `${h.name}: expected ${h.refusedFor}, got ${JSON.stringify(r.findings)}`,
      );
      for (const f of r.findings) assert.match(f.message, /\S+ .*[.)]$/, `${h.name}: a sentence`);
      assert.equal(qemuCalls, 0, `${h.name}: qemu-img was called`);
      assert.ok(!JSON.stringify(r).includes(fx.secretContent), `${h.name}: secret content leaked`);
    }
  });
});

async function runCli(args: string[]): Promise<{ out: string; code: number }> {
  const chunks: string[] = [];
  const image = new Command('image').exitOverride();
  registerImageCommands(image, { write: (t) => chunks.push(t) });
  const saved = process.exitCode;
  try {
    await image.parseAsync(['inspect', ...args], { from: 'user' });
    return { out: chunks.join(''), code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = saved;
  }
}

describe('kestrel image inspect', () => {
  test('--json on an acceptable image: exit 0 and the documented shape', async () => {
    const b = fx.benign.find((x) => x.name === 'vmdk streamOptimized')!;
    const { out, code } = await runCli([b.path, '--json']);
    const j = JSON.parse(out) as Record<string, unknown>;
    assert.equal(code, 0);
    assert.equal(j.format, 'vmdk');
    assert.equal(j.safe, true);
    assert.deepEqual(j.findings, []);
    assert.equal(typeof j.virtual_size, 'number');
    assert.equal(typeof j.actual_size, 'number');
  });

  test('--json on a refused image: exit 1, each finding with a code and a sentence', async () => {
    const h = fx.hostile.find((x) => x.name === 'qcow2 backing file on a host file')!;
    const { out, code } = await runCli([h.path, '--json']);
    const j = JSON.parse(out) as { safe: boolean; findings: { code: string; message: string }[] };
    assert.equal(code, 1);
    assert.equal(j.safe, false);
    assert.equal(j.findings[0].code, 'qcow2-backing-file');
    assert.ok(j.findings[0].message.length > 20);
    assert.ok(!out.includes(fx.secretContent));
  });

  test('--disk-format that differs from the content is refused', async () => {
    const b = fx.benign.find((x) => x.name === 'qcow2 v3')!;
    const { out, code } = await runCli([b.path, '--disk-format', 'raw']);
    assert.equal(code, 1);
    assert.match(out, /format-mismatch/);
  });
});
