// libvirt itself judges the SEV domain XML, as far as this machine allows without SEV:
// libvirt's RelaxNG schemas (virt-xml-validate) accept the golden SEV domains and the recorded
// SEV domain capabilities; qemu:///system refuses the SEV domain with the capability error
// ("SEV launch security is not supported with this QEMU binary"), not a schema or parse
// error, and accepts the same domain without <launchSecurity> (iommu='on' devices, locked
// memory, q35 + OVMF). Launching an SEV guest needs AMD SEV hardware and is not exercised.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/util/run.js';
import { LibvirtClient, UndefineFlags, isLibvirtError, type DomainRef } from '../../src/libvirt/index.js';
import { SevHostCapabilities, readSev } from '../../src/host/sev.js';
import { FIXTURES } from '../virt/fixtures.js';

const GOLDEN = ['sev-virtio', 'sev-vnc', 'sev-guest-agent', 'sev-scsi-virtio-scsi', 'sev-sata'];
const SEV_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'sev');
const CONFIG_UNSUPPORTED = 67;

async function validator(): Promise<string | undefined> {
  if (!existsSync('/usr/bin/virt-xml-validate'))
    return 'virt-xml-validate (libvirt-clients) is not installed';
  const r = await run(['xmllint', '--version'], { timeoutMs: 10_000 }).catch(() => undefined);
  return r && r.code === 0 ? undefined : 'xmllint (Debian libxml2-utils) is not installed';
}

describe('libvirt schema', () => {
  let missing: string | undefined;
  before(async () => {
    missing = await validator();
  });
  for (const name of GOLDEN) {
    test(`virt-xml-validate domain: ${name}.xml`, async (t) => {
      if (missing) return t.skip(`not exercised here: ${missing}`);
      const r = await run(['virt-xml-validate', join(FIXTURES, `${name}.xml`), 'domain'], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, `${name}.xml does not validate: ${r.stderr}${r.stdout}`);
    });
  }
  test('virt-xml-validate domaincaps: the recorded SEV domain capabilities', async (t) => {
    if (missing) return t.skip(`not exercised here: ${missing}`);
    // The libvirt >= 8 shape (maxGuests, maxESGuests); cpu0Id (libvirt 10) and the libvirt 7
    // shape (no maxGuests) are outside this host's libvirt 9.0 schema.
    for (const f of ['domcaps-epyc-milan-q35.xml', 'domcaps-no-sev-q35.xml']) {
      const r = await run(['virt-xml-validate', join(SEV_FIXTURES, f), 'domaincaps'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, `${f} does not validate: ${r.stderr}${r.stdout}`);
    }
  });
  test('the schema check can fail: a misspelt launchSecurity element is rejected', async (t) => {
    if (missing) return t.skip(`not exercised here: ${missing}`);
    const bad = readFileSync(join(FIXTURES, 'sev-virtio.xml'), 'utf8')
      .replace('<policy>', '<polciy>')
      .replace('</policy>', '</polciy>');
    const file = join('/tmp', `kt-sev-${randomBytes(3).toString('hex')}.xml`);
    await writeFile(file, bad);
    try {
      const r = await run(['virt-xml-validate', file, 'domain'], { timeoutMs: 30_000 });
      assert.notEqual(r.code, 0);
    } finally {
      await rm(file, { force: true });
    }
  });
});

describe('qemu:///system', () => {
  let client: LibvirtClient | undefined;
  let unreachable: string | undefined;
  const defined: DomainRef[] = [];
  before(async () => {
    try {
      client = await LibvirtClient.connect({ uri: 'qemu:///system' });
    } catch (e) {
      unreachable = (e as Error).message;
    }
  });
  after(async () => {
    for (const d of defined) await client?.domains.undefine(d, UndefineFlags.NVRAM).catch(() => undefined);
    await client?.close();
  });

  /** The golden SEV domain renamed for this run, as a TCG guest (this host's domain type). */
  function sevXml(name: string, launchSecurity: boolean, locked = true): string {
    let xml = readFileSync(join(FIXTURES, 'sev-guest-agent.xml'), 'utf8')
      .replace(/instance-6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/g, name)
      .replace(/6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/g, randomUUID())
      .replace('<domain type="kvm">', '<domain type="qemu">')
      .replace(/<cpu mode="host-model"[\s\S]*?<\/cpu>\n/, '')
      .replace(
        /<nvram template="([^"]+)">[^<]+<\/nvram>/,
        `<nvram template="$1">/var/lib/libvirt/qemu/nvram/${name}_VARS.fd</nvram>`,
      )
      .replace(/<interface type="network">[\s\S]*?<\/interface>\n/, '');
    if (!launchSecurity) xml = xml.replace(/\s*<launchSecurity[\s\S]*<\/launchSecurity>/, '');
    if (!locked) xml = xml.replace(/\s*<memoryBacking>[\s\S]*<\/memoryBacking>/, '');
    return xml;
  }

  test('defining the SEV domain fails on the missing SEV capability, not on its shape', async (t) => {
    if (!client) return t.skip(`not exercised here: libvirt unreachable (${unreachable})`);
    const name = `kt-sev-${randomBytes(3).toString('hex')}`;
    await assert.rejects(
      (async () => defined.push(await client!.domains.defineXml(sevXml(name, true))))(),
      (e: unknown) => {
        assert.ok(isLibvirtError(e), String(e));
        assert.equal(e.code, CONFIG_UNSUPPORTED, e.message);
        assert.match(e.message, /SEV launch security is not supported/);
        return true;
      },
    );
    t.diagnostic(
      'not exercised here: starting an SEV guest (this host has no AMD SEV; QEMU reports no sev-guest support)',
    );
  });

  test('the same domain without <launchSecurity> defines: iommu devices, locked memory, q35 and OVMF are accepted', async (t) => {
    if (!client) return t.skip(`not exercised here: libvirt unreachable (${unreachable})`);
    const name = `kt-sev-${randomBytes(3).toString('hex')}`;
    const dom = await client.domains.defineXml(sevXml(name, false));
    defined.push(dom);
    const back = await client.domains.getXmlDesc(dom, 0);
    assert.match(back, /<locked\/>/);
    assert.equal(back.match(/iommu='on'/g)?.length, 4, back); // disk, virtio-serial, balloon, rng
    assert.match(back, /machine='pc-q35-/);
  });

  test('QEMU starts the SEV domain minus <launchSecurity> and locked memory: every iommu=on virtio device is accepted', async (t) => {
    if (!client) return t.skip(`not exercised here: libvirt unreachable (${unreachable})`);
    const name = `kt-sev-${randomBytes(3).toString('hex')}`;
    const disk = join('/tmp', `${name}.qcow2`);
    const log = join('/tmp', `${name}.log`);
    const made = await run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '16M'], { timeoutMs: 30_000 });
    assert.equal(made.code, 0, made.stderr);
    await chmod(disk, 0o644);
    try {
      const xml = sevXml(name, false, false)
        .replace(/<source file="[^"]*\/disk"\/>/, `<source file="${disk}"/>`)
        .replace(/<source path="[^"]*console.log"\/>/, `<source path="${log}"/>`)
        .replace(/<log file="[^"]*console.log"/, `<log file="${log}"`)
        .replace(/524288/g, '65536');
      const dom = await client.domains.defineXml(xml);
      defined.push(dom);
      await client.domains.create(dom);
      const state = await client.domains.getState(dom);
      assert.equal(state.state, 1, 'running');
      await client.domains.destroy(dom);
    } finally {
      await rm(disk, { force: true });
      await rm(log, { force: true });
    }
    t.diagnostic(
      'not exercised here: <memoryBacking><locked/> at start (this container caps RLIMIT_MEMLOCK, libvirt cannot raise it) and <launchSecurity> (no SEV)',
    );
  });

  test("this host through the seam: the kernel has no SEV and libvirt reports <sev supported='no'>", async (t) => {
    if (!client) return t.skip(`not exercised here: libvirt unreachable (${unreachable})`);
    const lv = client;
    const caps = new SevHostCapabilities((arch, machine) =>
      lv.host.getDomainCapabilities({ arch, machine, virttype: 'qemu' }),
    );
    const q35 = await caps.forMachine('x86_64', 'q35');
    assert.equal(q35.supported, false);
    const kernel = await readSev('/');
    const s = await caps.detect('x86_64', { q35: 'q35' }, 'q35');
    assert.equal(s.supported, false);
    t.diagnostic(`this host: ${s.reason}; kvm_amd loaded: ${kernel.kvmAmd}`);
  });
});
