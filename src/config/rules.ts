// Rules that involve more than one option, checked before anything starts. Nova finds some of
// these only at spawn time (LVM without a volume group) or at start-up after connecting to
// libvirt; here they are all found at once, from the file alone.
import { isAbsolute } from 'node:path';
import { isQ35 } from '../rules/machine.js';
import type { ConfigProblem } from './problems.js';
import type { KestrelConfig } from './schema/index.js';

/** Where an option was set (file, line, shown value), for the messages. */
export type Locate = (group: string, option: string) => Omit<ConfigProblem, 'message'>;

export interface RuleResult {
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Checks the cross-option rules. May replace a value that cannot be used (said in a warning). */
export function checkRules(
  config: KestrelConfig,
  locate: Locate,
  isSet: (group: string, option: string) => boolean,
): RuleResult {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  // Attach a problem to whichever of the options the operator actually wrote (the last one
  // written, so the line points at the change that broke the combination).
  const on = (options: [string, string][]): Omit<ConfigProblem, 'message'> => {
    const written = options.filter(([g, o]) => isSet(g, o)).map(([g, o]) => locate(g, o));
    written.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return written.at(-1) ?? locate(options[0][0], options[0][1]);
  };
  const { DEFAULT, libvirt, glance, api } = config;

  // Nova: an unset *_allocation_ratio means initial_*_allocation_ratio.
  for (const kind of ['cpu', 'ram', 'disk'] as const)
    if (!isSet('DEFAULT', `${kind}_allocation_ratio`))
      DEFAULT[`${kind}_allocation_ratio`] = DEFAULT[`initial_${kind}_allocation_ratio`];

  if (libvirt.images_type === 'rbd' && !DEFAULT.force_raw_images)
    errors.push({
      ...on([
        ['DEFAULT', 'force_raw_images'],
        ['libvirt', 'images_type'],
      ]),
      message:
        '[DEFAULT] force_raw_images = False is not allowed with [libvirt] images_type = rbd: Ceph clones need raw images. Set force_raw_images = True or choose another images_type',
    });
  if (libvirt.images_type === 'rbd' && libvirt.images_rbd_pool === '')
    errors.push({
      ...on([
        ['libvirt', 'images_rbd_pool'],
        ['libvirt', 'images_type'],
      ]),
      message: 'images_type = rbd needs [libvirt] images_rbd_pool, the Ceph pool for instance disks',
    });
  if (libvirt.images_type === 'lvm' && !libvirt.images_volume_group)
    errors.push({
      ...on([
        ['libvirt', 'images_type'],
        ['libvirt', 'images_volume_group'],
      ]),
      message:
        'images_type = lvm needs [libvirt] images_volume_group, the LVM volume group to create instance disks in (see `vgs`)',
    });
  if (libvirt.cpu_models.length > 0 && libvirt.cpu_mode !== 'custom')
    errors.push({
      ...on([
        ['libvirt', 'cpu_models'],
        ['libvirt', 'cpu_mode'],
      ]),
      message: `cpu_models is only used with cpu_mode = custom (cpu_mode is ${libvirt.cpu_mode ?? 'unset'}): set [libvirt] cpu_mode = custom, or remove cpu_models`,
    });
  if (libvirt.cpu_mode === 'custom' && libvirt.cpu_models.length === 0)
    errors.push({
      ...on([
        ['libvirt', 'cpu_mode'],
        ['libvirt', 'cpu_models'],
      ]),
      message:
        'cpu_mode = custom needs [libvirt] cpu_models, the CPU models to choose from, oldest first (e.g. cpu_models = IvyBridge)',
    });
  if (libvirt.cpu_mode === 'none' && libvirt.cpu_model_extra_flags.length > 0)
    warnings.push({
      ...locate('libvirt', 'cpu_model_extra_flags'),
      message: 'has no effect with cpu_mode = none (there is no CPU model to add flags to)',
    });
  // An operator's nova.conf names RabbitMQ here: harmless all-in-one, refused by the roles.
  if (DEFAULT.transport_url && !/^\s*(nats|tls):\/\//i.test(DEFAULT.transport_url))
    warnings.push({
      ...locate('DEFAULT', 'transport_url'),
      message:
        "is not a NATS URL: Kestrel's message bus is NATS (nats://user:password@host:4222). kestrel serve --role all does not use it; --role controller and --role compute refuse it",
    });
  // Nova warns too: a service whose beats are further apart than the down time flaps.
  if (DEFAULT.service_down_time <= DEFAULT.report_interval)
    warnings.push({
      ...on([
        ['DEFAULT', 'report_interval'],
        ['DEFAULT', 'service_down_time'],
      ]),
      message: `service_down_time (${DEFAULT.service_down_time} s) is not longer than report_interval (${DEFAULT.report_interval} s): services would be reported down between two heartbeats. Set service_down_time to several times report_interval`,
    });
  if (libvirt.live_migration_tunnelled && libvirt.live_migration_with_native_tls)
    errors.push({
      ...on([
        ['libvirt', 'live_migration_tunnelled'],
        ['libvirt', 'live_migration_with_native_tls'],
      ]),
      message:
        'live_migration_tunnelled and live_migration_with_native_tls cannot both be true: native TLS already encrypts the migration stream; turn one off',
    });
  if (glance.enable_rbd_download && libvirt.images_type === 'rbd')
    warnings.push({
      ...locate('glance', 'enable_rbd_download'),
      message:
        'only useful when [libvirt] images_type is not rbd (with rbd, images are cloned inside Ceph, not downloaded)',
    });
  if (
    libvirt.num_memory_encrypted_guests !== null &&
    libvirt.num_memory_encrypted_guests > 0 &&
    !isQ35(libvirt.hw_machine_type.x86_64 ?? '')
  )
    warnings.push({
      ...locate('libvirt', 'hw_machine_type'),
      message:
        'AMD SEV guests need the q35 machine type; without x86_64=q35 here every SEV image must set hw_machine_type=q35, or its boot fails with no clear error',
    });

  // instances_path is only reported when written: its default follows a bad state_path.
  if (
    libvirt.num_memory_encrypted_guests !== null &&
    libvirt.num_memory_encrypted_guests > 0 &&
    DEFAULT.ram_allocation_ratio > 1
  )
    warnings.push({
      ...locate('DEFAULT', 'ram_allocation_ratio'),
      ...(isSet('DEFAULT', 'ram_allocation_ratio') ? {} : { value: String(DEFAULT.ram_allocation_ratio) }),
      message:
        'SEV guests pin their memory, so memory cannot be overcommitted on an SEV host; set ram_allocation_ratio = 1.0',
    });

  for (const option of ['state_path', 'instances_path'] as const)
    if (
      !isAbsolute(DEFAULT[option]) &&
      (option === 'state_path' || isSet('DEFAULT', option) || isAbsolute(DEFAULT.state_path))
    )
      errors.push({
        ...locate('DEFAULT', option),
        ...(isSet('DEFAULT', option) ? {} : { value: DEFAULT[option] }),
        message: 'must be an absolute path',
      });

  const ports = [
    ['identity_port', api.identity_port],
    ['compute_port', api.compute_port],
    ['image_port', api.image_port],
    ['network_port', api.network_port],
  ] as const;
  for (let i = 0; i < ports.length; i++)
    for (let j = i + 1; j < ports.length; j++)
      if (ports[i][1] === ports[j][1])
        errors.push({
          ...on([
            ['api', ports[i][0]],
            ['api', ports[j][0]],
          ]),
          message: `${ports[i][0]} and ${ports[j][0]} are both ${ports[i][1]}: each API needs its own port`,
        });
  if (!LOOPBACK.has(api.listen_host)) {
    if (api.auth_strategy === 'noauth')
      warnings.push({
        ...locate('api', 'auth_strategy'),
        message: `anyone who can reach ${api.listen_host} acts as admin; use auth_strategy = keystone off loopback`,
      });
    else if (api.admin_password === 'admin')
      warnings.push({
        ...locate('api', 'admin_password'),
        message: `still the default while the APIs listen on ${api.listen_host}; set a password of your own`,
      });
  }

  checkDatabase(config, locate, isSet, errors, warnings);
  return { errors, warnings };
}

function checkDatabase(
  config: KestrelConfig,
  locate: Locate,
  isSet: (g: string, o: string) => boolean,
  errors: ConfigProblem[],
  warnings: ConfigProblem[],
): void {
  const url = config.database.connection;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1].toLowerCase() ?? '';
  const fallback = `sqlite:///${config.DEFAULT.state_path.replace(/\/$/, '')}/kestrel.sqlite`;
  if (url.trim() === '') {
    // Empty means "Kestrel's own SQLite file", as src/db reads it.
    config.database.connection = fallback;
  } else if (scheme === 'sqlite') {
    const path = url.slice('sqlite://'.length).split('?')[0];
    if (path === '' || path === '/' || path === '/:memory:') {
      warnings.push({
        ...locate('database', 'connection'),
        message: 'an in-memory database: everything is lost when Kestrel stops',
      });
    } else if (!path.startsWith('/') || !isAbsolute(path.slice(1))) {
      warnings.push({
        ...locate('database', 'connection'),
        message:
          'a relative SQLite path depends on the directory Kestrel starts in; write sqlite:////absolute/path.sqlite (four slashes)',
      });
    }
  } else if (scheme === 'postgresql' || scheme === 'postgres' || scheme.startsWith('postgresql+')) {
    // Accepted; the driver suffix of SQLAlchemy URLs (postgresql+psycopg2) is ignored.
  } else if (scheme === 'mysql' || scheme.startsWith('mysql+')) {
    // A nova.conf usually points at Nova's MySQL database, which Kestrel cannot use. Accept the
    // file (so nova.conf works as is) and say plainly that Kestrel keeps its own database.
    config.database.connection = fallback;
    warnings.push({
      ...locate('database', 'connection'),
      message: `Kestrel cannot use MySQL/MariaDB (it supports sqlite and postgresql); using its own database ${fallback} instead`,
    });
  } else if (isSet('database', 'connection')) {
    errors.push({
      ...locate('database', 'connection'),
      message: 'expected sqlite:////absolute/path.sqlite or postgresql://user:password@host/dbname',
    });
  }
}
