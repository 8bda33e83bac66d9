import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../config/index.js';
import { libvirtDriverOptionsFromConfig } from './from-config.js';

test('nova.conf [libvirt]/[workarounds] options map onto the driver options', () => {
  const { config } = parseConfigText(
    '[libvirt]\nvirt_type = kvm\ncpu_mode = custom\ncpu_models = IvyBridge,Haswell\ncpu_model_extra_flags = pcid,-mpx\nhw_machine_type = x86_64=q35\n' +
      '[workarounds]\nskip_cpu_compare_at_startup = true\n',
  );
  const o = libvirtDriverOptionsFromConfig(config, { virtType: 'kvm', kvmProbe: { ok: true, detail: 'ok' } });
  assert.equal(o.virtType, 'kvm');
  assert.equal(o.cpuMode, 'custom');
  assert.deepEqual(o.cpuModels, ['IvyBridge', 'Haswell']);
  assert.deepEqual(o.cpuModelExtraFlags, ['pcid', '-mpx']);
  assert.deepEqual(o.machineTypes, { x86_64: 'q35' });
  assert.equal(o.skipCpuCompareAtStartup, true);
  assert.equal(o.allowNestedSuspend, false);
  assert.equal(o.uri, undefined);
});
