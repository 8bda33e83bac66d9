import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfigText } from './parse.js';
import type { ConfigProblem } from './problems.js';

const errorsOf = (text: string): ConfigProblem[] => parseConfigText(text, 'k.conf').errors;
const warningsOf = (text: string): ConfigProblem[] => parseConfigText(text, 'k.conf').warnings;

describe('defaults', () => {
  test('every group is present with typed, interpolated defaults', () => {
    const c = defaultConfig();
    assert.equal(c.libvirt.virt_type, 'auto');
    assert.equal(c.DEFAULT.state_path, '/var/lib/kestrel');
    assert.equal(c.DEFAULT.instances_path, '/var/lib/kestrel/instances');
    assert.equal(c.DEFAULT.force_raw_images, true);
    assert.equal(c.libvirt.cpu_mode, null);
    assert.deepEqual(c.libvirt.cpu_models, []);
    assert.deepEqual(c.libvirt.hw_machine_type, {});
    assert.equal(c.libvirt.num_memory_encrypted_guests, null);
    assert.equal(c.api.listen_host, '127.0.0.1');
    assert.equal(c.database.connection, 'sqlite:////var/lib/kestrel/kestrel.sqlite');
    assert.equal(c.image_cache.subdirectory_name, '_base');
  });
  test('unset allocation ratios follow their initial_* options, as in Nova', () => {
    assert.deepEqual(
      [defaultConfig().DEFAULT.cpu_allocation_ratio, defaultConfig().DEFAULT.ram_allocation_ratio],
      [4, 1],
    );
    const c = parseConfigText(
      '[DEFAULT]\ninitial_cpu_allocation_ratio = 8\nram_allocation_ratio = 1.5\n',
    ).config;
    assert.deepEqual(
      [c.DEFAULT.cpu_allocation_ratio, c.DEFAULT.ram_allocation_ratio, c.DEFAULT.disk_allocation_ratio],
      [8, 1.5, 1],
    );
  });
  test('an empty file has no problems', () => {
    const r = parseConfigText('');
    assert.deepEqual([r.errors, r.warnings], [[], []]);
    assert.equal(r.source, null);
  });
});

describe('typed values', () => {
  test('booleans in every oslo spelling, any case', () => {
    for (const [word, value] of [
      ['True', true],
      ['yes', true],
      ['ON', true],
      ['1', true],
      ['false', false],
      ['No', false],
      ['off', false],
      ['0', false],
    ] as const) {
      assert.equal(
        parseConfigText(`[DEFAULT]\nforce_raw_images = ${word}\n`).config.DEFAULT.force_raw_images,
        value,
        word,
      );
    }
    const [e] = errorsOf('[DEFAULT]\nforce_raw_images = maybe\n');
    assert.equal(e.option, 'force_raw_images');
    assert.equal(e.value, 'maybe');
    assert.match(e.message, /true\/false/);
  });
  test('integers and floats with ranges', () => {
    const c = parseConfigText('[DEFAULT]\nshelved_offload_time = -1\ncpu_allocation_ratio = 16.0\n').config;
    assert.equal(c.DEFAULT.shelved_offload_time, -1);
    assert.equal(c.DEFAULT.cpu_allocation_ratio, 16);
    const errors = errorsOf(
      '[DEFAULT]\nshelved_offload_time = -2\nreserved_host_memory_mb = 1.5\n[api]\ncompute_port = 70000\n',
    );
    assert.deepEqual(
      errors.map((e) => [e.line, e.option]),
      [
        [2, 'shelved_offload_time'],
        [3, 'reserved_host_memory_mb'],
        [5, 'compute_port'],
      ],
    );
    assert.match(errors[0].message, /at least -1/);
    assert.match(errors[2].message, /between 1 and 65535/);
  });
  test('lists are split on commas and stripped; extra flags are lowercased', () => {
    const c = parseConfigText(
      '[libvirt]\ncpu_mode = custom\ncpu_models = Penryn , IvyBridge\ncpu_model_extra_flags = VMX, +pcid, -ssbd\n',
    ).config;
    assert.deepEqual(c.libvirt.cpu_models, ['Penryn', 'IvyBridge']);
    assert.deepEqual(c.libvirt.cpu_model_extra_flags, ['vmx', '+pcid', '-ssbd']);
    const [e] = errorsOf('[libvirt]\ncpu_model_extra_flags = vmx,,pcid\n');
    assert.match(e.message, /empty item/);
  });
  test('hw_machine_type becomes an arch → machine type map; bad items are skipped with a warning', () => {
    const r = parseConfigText('[libvirt]\nhw_machine_type = x86_64=q35, armv7l=virt, aarch64, x86_64=pc\n');
    assert.deepEqual(r.config.libvirt.hw_machine_type, { x86_64: 'q35', armv7l: 'virt' });
    assert.equal(r.errors.length, 0);
    assert.match(r.warnings[0].message, /skipped "aarch64"/);
  });
  test('choices: each invalid value lists what is allowed', () => {
    const [e] = errorsOf('[libvirt]\ncpu_mode = host-modle\n');
    assert.equal(e.group, 'libvirt');
    assert.match(e.message, /host-model, host-passthrough, custom, none/);
  });
  test("virt_type: auto, kvm, qemu accepted; Nova's other types refused with the reason", () => {
    for (const t of ['auto', 'kvm', 'qemu']) assert.deepEqual(errorsOf(`[libvirt]\nvirt_type = ${t}\n`), []);
    for (const t of ['xen', 'lxc', 'uml', 'parallels']) {
      const [e] = errorsOf(`[libvirt]\nvirt_type = ${t}\n`);
      assert.equal(e.value, t);
      assert.match(e.message, /supports only the kvm and qemu/);
    }
    assert.match(errorsOf('[libvirt]\nvirt_type = vmware\n')[0].message, /one of: auto, kvm, qemu/);
  });
});

describe('multi-valued and repeated options', () => {
  test('a repeated ordinary option: the last one wins', () => {
    assert.equal(
      parseConfigText('[libvirt]\nvirt_type = kvm\nvirt_type = qemu\n').config.libvirt.virt_type,
      'qemu',
    );
  });
  test('a MultiOpt keeps every occurrence, in order', () => {
    const c = parseConfigText(
      '[DEFAULT]\nreserved_huge_pages = node:0,size:2048,count:64\nreserved_huge_pages = node:1,size:1GB,count:1\n',
    ).config;
    assert.deepEqual(c.DEFAULT.reserved_huge_pages, [
      { node: '0', size: '2048', count: '64' },
      { node: '1', size: '1GB', count: '1' },
    ]);
    assert.match(errorsOf('[DEFAULT]\nreserved_huge_pages = node0\n')[0].message, /key:value/);
    assert.match(
      errorsOf('[DEFAULT]\nreserved_huge_pages = node:0,size:2048\n')[0].message,
      /node, size and count/,
    );
    assert.deepEqual(errorsOf('[DEFAULT]\nreserved_huge_pages = node:0,size:1GB,count:2\n'), []);
  });
});

describe('interpolation through the loader', () => {
  test('$state_path follows the file, including in defaults of other groups', () => {
    const c = parseConfigText('[DEFAULT]\nstate_path = /srv/k\n').config;
    assert.equal(c.DEFAULT.instances_path, '/srv/k/instances');
    assert.equal(c.database.connection, 'sqlite:////srv/k/kestrel.sqlite');
  });
  test('${group.option} across groups and $$', () => {
    const c = parseConfigText(
      '[libvirt]\nimages_rbd_pool = vms\n[glance]\nrbd_pool = ${libvirt.images_rbd_pool}\n[api]\nadmin_password = a$$b\n',
    ).config;
    assert.equal(c.glance.rbd_pool, 'vms');
    assert.equal(c.api.admin_password, 'a$b');
  });
  test('an unknown reference is an error naming the option; secrets are not shown', () => {
    const [e] = errorsOf('[api]\nadmin_password = pa$zqx\n');
    assert.equal(e.option, 'admin_password');
    assert.equal(e.value, '(hidden)');
    assert.match(e.message, /\$\$ for a literal/);
    assert.doesNotMatch(JSON.stringify(e), /zqx/, 'no part of the secret is shown');
    assert.match(errorsOf('[glance]\nrbd_pool = $nothing\n')[0].message, /"\$nothing" names no option/);
  });
  test('a self-reference is a loop error', () => {
    assert.match(errorsOf('[DEFAULT]\nstate_path = $state_path/x\n')[0].message, /loop/);
  });
});

describe('deprecated names and aliases', () => {
  test('images_type = raw is read as flat, with a warning', () => {
    const r = parseConfigText('[libvirt]\nimages_type = raw\n', 'k.conf');
    assert.equal(r.config.libvirt.images_type, 'flat');
    assert.deepEqual(r.errors, []);
    assert.equal(r.warnings[0].line, 2);
    assert.match(r.warnings[0].message, /deprecated alias of "flat"/);
  });
  test('cpu_model is read as cpu_models; the current name wins when both are set', () => {
    const r = parseConfigText('[libvirt]\ncpu_mode = custom\ncpu_model = IvyBridge\n');
    assert.deepEqual(r.config.libvirt.cpu_models, ['IvyBridge']);
    assert.match(r.warnings[0].message, /write "cpu_models"/);
    const bad = parseConfigText('[libvirt]\ncpu_model = IvyBridge\n');
    assert.deepEqual(
      [bad.errors[0].option, bad.errors[0].line],
      ['cpu_model', 2],
      'problems name what the file says',
    );
    const both = parseConfigText(
      '[libvirt]\ncpu_mode = custom\ncpu_models = Haswell\ncpu_model = IvyBridge\n',
    );
    assert.deepEqual(both.config.libvirt.cpu_models, ['Haswell']);
  });
  test('options that moved groups: [DEFAULT] image_cache_subdirectory_name → [image_cache]', () => {
    const r = parseConfigText(
      '[DEFAULT]\nimage_cache_subdirectory_name = _cache\nimage_cache_manager_interval = -1\n',
    );
    assert.equal(r.config.image_cache.subdirectory_name, '_cache');
    assert.equal(r.config.image_cache.manager_interval, -1);
    assert.equal(r.warnings.length, 2);
  });
  test('a deprecated option warns when set', () => {
    assert.match(warningsOf('[libvirt]\nsparse_logical_volumes = true\n')[0].message, /deprecated option/);
  });
});

describe('unknown groups and options', () => {
  test('unknown groups are ignored silently', () => {
    const r = parseConfigText(
      '[keystone_authtoken]\npassword = x\n[vnc]\nenabled = true\n[api_database]\nconnection = mysql://x\n[LIBVIRT_X]\nk = v\n',
    );
    assert.deepEqual([r.errors, r.warnings], [[], []]);
  });
  test('group names other than DEFAULT are case-insensitive, as in oslo.config', () => {
    const r = parseConfigText('[Libvirt]\nvirt_type = qemu\n[libvirt]\ncpu_mode = none\n');
    assert.equal(r.config.libvirt.virt_type, 'qemu');
    assert.equal(r.config.libvirt.cpu_mode, 'none');
    assert.match(warningsOf('[default]\ndebug = true\n')[0].message, /write \[DEFAULT\]/);
  });
  test('an unknown option in a known group warns, naming the nearest known option', () => {
    const [w] = warningsOf('[libvirt]\nvirt_typo = kvm\n');
    assert.equal(w.line, 2);
    assert.equal(w.option, 'virt_typo');
    assert.match(w.message, /did you mean virt_type\?/);
  });
  test('an option in the wrong group says where it belongs', () => {
    const [w] = warningsOf('[DEFAULT]\nvirt_type = kvm\n');
    assert.match(w.message, /belongs in \[libvirt\]/);
  });
  test('an option before any header is an error that names its group', () => {
    const [e] = errorsOf('virt_type = kvm\n');
    assert.match(e.message, /put it under \[libvirt\]/);
  });
});

describe('cross-option rules', () => {
  const rule = (text: string, pattern: RegExp): ConfigProblem => {
    const errors = errorsOf(text);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0].message, pattern);
    return errors[0];
  };
  test('rbd needs force_raw_images', () => {
    const e = rule(
      '[DEFAULT]\nforce_raw_images = False\n[libvirt]\nimages_type = rbd\n',
      /force_raw_images = False is not allowed/,
    );
    assert.equal(e.line, 4);
  });
  test('cpu_models without custom mode, and custom mode without models', () => {
    rule('[libvirt]\ncpu_models = IvyBridge\n', /only used with cpu_mode = custom/);
    rule('[libvirt]\ncpu_mode = host-model\ncpu_models = IvyBridge\n', /cpu_mode is host-model/);
    rule('[libvirt]\ncpu_mode = custom\n', /needs \[libvirt\] cpu_models/);
  });
  test('lvm needs a volume group; rbd needs a pool', () => {
    rule('[libvirt]\nimages_type = lvm\n', /images_volume_group/);
    rule('[libvirt]\nimages_type = rbd\nimages_rbd_pool =\n', /images_rbd_pool/);
  });
  test('tunnelled and native-TLS live migration exclude each other', () => {
    rule(
      '[libvirt]\nlive_migration_tunnelled = true\nlive_migration_with_native_tls = true\n',
      /cannot both be true/,
    );
  });
  test('paths must be absolute; API ports distinct', () => {
    rule('[DEFAULT]\nstate_path = var/lib\n', /absolute/);
    rule('[api]\nimage_port = 5000\n', /identity_port and image_port are both 5000/);
  });
  test('database URLs: sqlite and postgresql accepted; MySQL replaced with a warning; others refused', () => {
    assert.deepEqual(errorsOf('[database]\nconnection = postgresql+psycopg2://k:pw@db/kestrel\n'), []);
    const r = parseConfigText('[database]\nconnection = mysql+pymysql://nova:NOVA_DBPASS@controller/nova\n');
    assert.deepEqual(r.errors, []);
    assert.equal(r.config.database.connection, 'sqlite:////var/lib/kestrel/kestrel.sqlite');
    assert.equal(r.warnings[0].value, 'mysql+pymysql://nova:***@controller/nova');
    assert.doesNotMatch(JSON.stringify(r.warnings), /NOVA_DBPASS/);
    rule('[database]\nconnection = mongodb://x:pw@h/db\n', /expected sqlite/);
  });
  test('warnings for combinations that work but are likely mistakes', () => {
    assert.match(
      warningsOf('[glance]\nenable_rbd_download = true\n[libvirt]\nimages_type = rbd\n')[0].message,
      /only useful/,
    );
    assert.match(warningsOf('[libvirt]\nnum_memory_encrypted_guests = 15\n')[0].message, /q35/);
    assert.match(
      warningsOf(
        '[DEFAULT]\nram_allocation_ratio = 1.5\n[libvirt]\nnum_memory_encrypted_guests = 15\nhw_machine_type = x86_64=q35\n',
      )[0].message,
      /ram_allocation_ratio = 1.0/,
    );
    assert.deepEqual(
      warningsOf('[libvirt]\nnum_memory_encrypted_guests = 15\nhw_machine_type = x86_64=q35\n'),
      [],
    );
    assert.match(warningsOf('[api]\nlisten_host = 0.0.0.0\n')[0].message, /admin_password|password/);
  });
});

test('every problem in one run, in file order', () => {
  const errors = errorsOf(
    '[libvirt]\nvirt_type = xen\ncpu_mode = custom\nimages_type = lvm\n[DEFAULT]\nforce_raw_images = perhaps\n',
  );
  assert.deepEqual(
    errors.map((e) => e.option),
    ['virt_type', 'cpu_mode', 'images_type', 'force_raw_images'],
  );
});
