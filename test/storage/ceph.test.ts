// Every test that needs Ceph, in one file: the cluster is brought up once (scripts/ceph-up) and,
// when this file started it, torn down at the end (scripts/ceph-down). Keeping them in one file
// means no other test file can tear the cluster down under a running test. Cases live in
// *.cases.ts modules by concern.
import { after, describe } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ensureCeph, type CephEnv } from './ceph-env.js';
import { rbdStoreCases } from './rbd-store.cases.js';
import { rbdDownloadCases } from './rbd-download.cases.js';
import { rbdBackendCases } from './rbd-backend.cases.js';
import { rbdBootCases } from './rbd-boot.cases.js';
import { rbdServiceCases } from '../storage-e2e/rbd.cases.js';
import { runBackendConformance, type ConformanceCheck } from '../images/backend-conformance.js';
import { RbdDiskBackend } from '../../src/images/backends/rbd.js';

const prefix = `kt-storage-${randomBytes(3).toString('hex')}`;
const up = await ensureCeph();
const skip = 'skip' in up ? `Ceph unavailable, not exercised: ${up.skip}` : false;
if (skip) console.log(`# SKIP ${skip}`);
const env = (): CephEnv => up as CephEnv;

after(async () => {
  if (!('skip' in up)) await up.release();
});

describe('RBD image store', { skip }, () => {
  rbdStoreCases(env, prefix);
});

describe('RBD direct download', { skip }, () => {
  rbdDownloadCases(env, prefix);
});

describe('images_type=rbd backend', { skip }, () => {
  rbdBackendCases(env, prefix);
});

describe('RBD boot through libvirt', { skip }, () => {
  rbdBootCases(env, prefix);
});

describe(
  'Kestrel service on Ceph (API end to end: images_type=rbd, RBD image store, direct download)',
  { skip },
  () => {
    rbdServiceCases(env, prefix);
  },
);

const allChecks: ConformanceCheck[] = [
  'raw-base',
  'qcow2-base',
  'size-zero',
  'too-small',
  'delete',
  'list-exists',
  'export-qcow2',
  'failure',
  'twice',
  'capacity',
];
runBackendConformance(
  'rbd (pool vms)',
  async () => ({
    backend: skip
      ? new RbdDiskBackend()
      : new RbdDiskBackend({ cephConf: env().conf, user: env().user, pool: 'vms' }),
  }),
  {
    // force_raw_images is required with rbd: the cache only ever hands it raw bases.
    baseFormats: ['raw'],
    skip: skip ? Object.fromEntries(allChecks.map((c) => [c, skip])) : {},
  },
);
