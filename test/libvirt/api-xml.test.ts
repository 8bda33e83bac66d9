// Cross-checks the client's constants against libvirt's machine-readable API description
// (/usr/share/libvirt/api/libvirt-api.xml from libvirt-dev), and that every procedure in the table
// names a real libvirt API. Procedure *numbers* are not in that file; the integration tests check
// them on the wire (a wrong number answers with the wrong shape or "unknown procedure").
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  ErrorCode,
  ErrorDomain,
  DomainState,
  ListDomainsFlags,
  DefineFlags,
  CreateFlags,
  DestroyFlags,
  ShutdownFlags,
  ConsoleFlags,
  UndefineFlags,
  XmlFlags,
  MetadataType,
  SnapshotCreateFlags,
  BlockCopyFlags,
  BlockJobAbortFlags,
  MigrateFlags,
  DomainEventId,
  LIFECYCLE_EVENTS,
  LIFECYCLE_DETAILS,
  SecretUsageType,
  TypedParamType,
  ModificationImpact,
  CpuCompareResult,
  BLOCK_JOB_TYPES,
  BLOCK_JOB_STATUSES,
  procedures,
} from '../../src/libvirt/index.js';
import { AGENT_STATES, AGENT_REASONS } from '../../src/libvirt/events.js';

const API = '/usr/share/libvirt/api/libvirt-api.xml';
const QEMU_API = '/usr/share/libvirt/api/libvirt-qemu-api.xml';
const skip = existsSync(API)
  ? false
  : `${API} not installed (apt-get install libvirt-dev to run this cross-check)`;

function loadEnums(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of readFileSync(path, 'utf8').matchAll(/<enum name='([A-Z0-9_]+)'[^>]*?value='(-?\d+)'/g))
    out.set(m[1], Number(m[2]));
  return out;
}

function loadFunctions(path: string): Set<string> {
  const out = new Set<string>();
  for (const m of readFileSync(path, 'utf8').matchAll(/<function name='(vir[A-Za-z0-9]+)'/g))
    out.add(m[1].toLowerCase());
  return out;
}

describe('constants match libvirt-api.xml', { skip }, () => {
  const enums = skip ? new Map<string, number>() : loadEnums(API);

  function check(table: Record<string, number>, prefix: string, rename: Record<string, string> = {}): void {
    const wrong: string[] = [];
    for (const [k, v] of Object.entries(table)) {
      const name = prefix + (rename[k] ?? k);
      const want = enums.get(name);
      if (want === undefined) wrong.push(`${name} missing from the API`);
      else if (want !== v) wrong.push(`${name}: ours ${v}, libvirt ${want}`);
    }
    assert.deepEqual(wrong, []);
  }

  test('error codes, domains', () => {
    check(ErrorCode, 'VIR_ERR_', { OK: 'OK' });
    check(ErrorDomain, 'VIR_FROM_');
  });

  test('domain states and flags', () => {
    check(DomainState, 'VIR_DOMAIN_');
    check(ListDomainsFlags, 'VIR_CONNECT_LIST_DOMAINS_');
    check(DefineFlags, 'VIR_DOMAIN_DEFINE_');
    check(CreateFlags, 'VIR_DOMAIN_START_');
    check(DestroyFlags, 'VIR_DOMAIN_DESTROY_');
    check(ShutdownFlags, 'VIR_DOMAIN_SHUTDOWN_');
    check(ConsoleFlags, 'VIR_DOMAIN_CONSOLE_');
    check(UndefineFlags, 'VIR_DOMAIN_UNDEFINE_');
    check(XmlFlags, 'VIR_DOMAIN_XML_');
    check(MetadataType, 'VIR_DOMAIN_METADATA_');
    check(ModificationImpact, 'VIR_DOMAIN_AFFECT_');
    check(SnapshotCreateFlags, 'VIR_DOMAIN_SNAPSHOT_CREATE_');
    check(BlockCopyFlags, 'VIR_DOMAIN_BLOCK_COPY_');
    check(BlockJobAbortFlags, 'VIR_DOMAIN_BLOCK_JOB_ABORT_');
    check(MigrateFlags, 'VIR_MIGRATE_');
    check(SecretUsageType, 'VIR_SECRET_USAGE_TYPE_');
    check(TypedParamType, 'VIR_TYPED_PARAM_');
    check(CpuCompareResult, 'VIR_CPU_COMPARE_');
  });

  test('event IDs, lifecycle types and details, agent lifecycle', () => {
    check(DomainEventId, 'VIR_DOMAIN_EVENT_ID_');
    LIFECYCLE_EVENTS.forEach((ev, i) =>
      assert.equal(enums.get(`VIR_DOMAIN_EVENT_${ev.toUpperCase()}`), i, ev),
    );
    for (const [ev, details] of Object.entries(LIFECYCLE_DETAILS)) {
      details.forEach((d, i) =>
        assert.equal(enums.get(`VIR_DOMAIN_EVENT_${ev.toUpperCase()}_${d.toUpperCase()}`), i, `${ev}/${d}`),
      );
      assert.equal(
        enums.get(`VIR_DOMAIN_EVENT_${ev.toUpperCase()}_LAST`),
        details.length,
        `${ev}: detail table complete`,
      );
    }
    BLOCK_JOB_TYPES.forEach((t, i) =>
      assert.equal(enums.get(`VIR_DOMAIN_BLOCK_JOB_TYPE_${t.toUpperCase().replace('-', '_')}`), i, t),
    );
    BLOCK_JOB_STATUSES.forEach((t, i) =>
      assert.equal(enums.get(`VIR_DOMAIN_BLOCK_JOB_${t.toUpperCase()}`), i, t),
    );
    AGENT_STATES.slice(1).forEach((s, i) =>
      assert.equal(enums.get(`VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_${s.toUpperCase()}`), i + 1, s),
    );
    AGENT_REASONS.forEach((r, i) =>
      assert.equal(
        enums.get(`VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_${r.toUpperCase().replace('-', '_')}`),
        i,
        r,
      ),
    );
  });

  test('every procedure names a libvirt API', () => {
    const fns = loadFunctions(API);
    if (existsSync(QEMU_API)) for (const f of loadFunctions(QEMU_API)) fns.add(f);
    // Internal procedures with no public function of the same name.
    const internal = new Set([
      'AUTH_LIST',
      'AUTH_POLKIT',
      'CONNECT_SUPPORTS_FEATURE',
      'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY',
      'CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY',
      'DOMAIN_MIGRATE_BEGIN3_PARAMS',
      'DOMAIN_MIGRATE_PREPARE3_PARAMS',
      'DOMAIN_MIGRATE_PERFORM3_PARAMS',
      'DOMAIN_MIGRATE_FINISH3_PARAMS',
      'DOMAIN_MIGRATE_CONFIRM3_PARAMS',
    ]);
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const p of Object.values(procedures)) {
      const key = `${p.prog}:${p.proc}`;
      assert.ok(!seen.has(key), `duplicate procedure number ${key} (${p.name})`);
      seen.add(key);
      if (internal.has(p.name)) continue;
      const fn = `vir${p.name.replace(/^QEMU_DOMAIN_/, 'DOMAIN_QEMU_').replace(/_/g, '')}`.toLowerCase();
      if (!fns.has(fn)) missing.push(`${p.name} (looked for ${fn})`);
    }
    assert.deepEqual(missing, []);
  });
});
