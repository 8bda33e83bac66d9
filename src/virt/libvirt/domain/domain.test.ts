// Element-level render/parse tests (Nova test_config.py style).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from 'xmlbuilder2';
import { renderCpu, renderCpuXml, renderDisk, renderDomain } from './render.js';
import { run } from '../../../util/run.js';
import { parseDomain } from './parse.js';
import { emptyDomain } from './types.js';

function el(fn: (parent: ReturnType<typeof create>) => void): string {
  const root = create().ele('x');
  fn(root);
  return root.end({ headless: true }).replace(/^<x>|<\/x>$/g, '');
}

test('cpu element: mode, match, model, topology, features in order', () => {
  assert.equal(
    el((p) =>
      renderCpu(p, {
        mode: 'custom',
        match: 'exact',
        model: 'IvyBridge',
        topology: { sockets: 2, cores: 1, threads: 1 },
        features: [{ policy: 'require', name: 'pcid' }],
      }),
    ),
    '<cpu mode="custom" match="exact"><model>IvyBridge</model><topology sockets="2" cores="1" threads="1"/><feature policy="require" name="pcid"/></cpu>',
  );
  assert.equal(
    renderCpuXml({ model: 'Haswell', features: [], arch: 'x86_64' }),
    '<cpu><arch>x86_64</arch><model>Haswell</model></cpu>',
  );
});

test('disk elements: file, block and rbd with auth', () => {
  assert.equal(
    el((p) =>
      renderDisk(p, {
        type: 'file',
        file: '/d',
        device: 'disk',
        driver: { name: 'qemu', type: 'qcow2' },
        target: { dev: 'vda', bus: 'virtio' },
      }),
    ),
    '<disk type="file" device="disk"><driver name="qemu" type="qcow2"/><source file="/d"/><target dev="vda" bus="virtio"/></disk>',
  );
  assert.equal(
    el((p) =>
      renderDisk(p, {
        type: 'network',
        protocol: 'rbd',
        name: 'vms/x',
        hosts: [{ name: '10.0.0.1', port: 6789 }],
        auth: { username: 'kestrel', secretType: 'ceph', secretUuid: 'u' },
        device: 'disk',
        driver: { name: 'qemu', type: 'raw' },
        target: { dev: 'sda', bus: 'scsi' },
      }),
    ),
    '<disk type="network" device="disk"><driver name="qemu" type="raw"/><auth username="kestrel"><secret type="ceph" uuid="u"/></auth>' +
      '<source protocol="rbd" name="vms/x"><host name="10.0.0.1" port="6789"/></source><target dev="sda" bus="scsi"/></disk>',
  );
});

test('user strings are escaped, and parse(render(d)) gives d back', () => {
  const d = emptyDomain('n', '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b', 'qemu');
  d.metadata = {
    uuid: d.uuid,
    displayName: `</kestrel:name><evil a='1'>&`,
    projectId: 'p',
    flavor: { id: '1', name: 'f', vcpus: 1, memoryMb: 64, rootGb: 1 },
    imageId: 'i',
    createdAt: 't',
    nestedVirt: true,
  };
  d.memoryKib = 65536;
  d.os.cmdline = 'console=ttyS0 a="b c"';
  const xml = renderDomain(d);
  assert.ok(!xml.includes('<evil'), 'no injected element');
  const back = parseDomain(xml);
  assert.equal(back.metadata?.displayName, d.metadata.displayName);
  assert.equal(back.metadata?.nestedVirt, true);
  assert.equal(back.os.cmdline, d.os.cmdline);
  assert.equal(renderDomain(back), xml);
});

/** One sample of every character class a user string can hold, and what XML makes of it. */
const CHARACTER_CLASSES: { label: string; chars: string; survives: boolean }[] = [
  { label: 'markup', chars: `<>&'"`, survives: true },
  { label: 'markup that closes the element', chars: '</kestrel:name><evil/>', survives: true },
  // A CR in text comes back as LF (XML's end-of-line handling); names never hold one (text-rules).
  { label: 'tab, LF', chars: '\t\n', survives: true },
  { label: 'NUL', chars: '\u0000', survives: false },
  { label: 'other C0 controls', chars: '\u0001\u0008\u000b\u000c\u001b\u001f', survives: false },
  { label: 'DEL and C1 controls', chars: '\u007f\u0085\u009f', survives: true },
  { label: 'lone surrogates', chars: '\udfff\ud800', survives: false },
  { label: 'non-characters', chars: '\ufffe\uffff', survives: false },
  { label: 'format and bidi overrides', chars: '\u200b\u202e\u2066\ufeff', survives: true },
  { label: 'line and paragraph separators', chars: '\u2028\u2029', survives: true },
  { label: 'private use', chars: '\ue000\uf8ff', survives: true },
  { label: 'letters, marks, CJK, astral', chars: 'éå\u0301中文💥𝄞', survives: true },
];

test('every character class in a name: the XML writer keeps the document well-formed (libxml2 via xmllint)', async () => {
  for (const { label, chars, survives } of CHARACTER_CLASSES) {
    const d = emptyDomain('n', '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b', 'qemu');
    const value = `a${chars}z`;
    d.metadata = {
      uuid: d.uuid,
      displayName: value,
      projectId: 'p',
      flavor: { id: '1', name: value, vcpus: 1, memoryMb: 64, rootGb: 1 },
      imageId: 'i',
      createdAt: 't',
      nestedVirt: false,
    };
    d.memoryKib = 65536;
    const xml = renderDomain(d);
    const lint = await run(['xmllint', '--noout', '-'], { input: xml, timeoutMs: 30_000 });
    assert.equal(lint.code, 0, `${label}: libxml2 refuses the document: ${lint.stderr}`);
    assert.ok(!xml.includes('<evil'), `${label}: no injected element`);
    const back = parseDomain(xml);
    if (survives) assert.equal(back.metadata?.displayName, value, `${label}: text round-trips`);
    else {
      assert.match(back.metadata?.displayName ?? '', /^a\uFFFD+z$/, `${label}: replaced by U+FFFD`);
      assert.match(back.metadata?.flavor.name ?? '', /^a\uFFFD+z$/, `${label}: attribute replaced too`);
    }
  }
});

test('parse reads what libvirt adds (unknown elements ignored, memory units converted)', () => {
  const d = parseDomain(`<domain type='kvm' id='3'><name>x</name><uuid>u</uuid><memory unit='MiB'>16</memory>
    <vcpu>2</vcpu><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><boot dev='hd'/></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/a'/><target dev='hda' bus='ide'/><alias name='ide0-0-0'/></disk>
    <serial type='file'><source path='/l'/><target type='isa-serial' port='0'/></serial><video/></devices></domain>`);
  assert.equal(d.memoryKib, 16384);
  assert.equal(d.vcpus, 2);
  assert.equal(d.devices.disks[0].type === 'file' && d.devices.disks[0].file, '/a');
  assert.equal(d.devices.serials[0].path, '/l');
});
