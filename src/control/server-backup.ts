// POST /servers/{id}/action {"createBackup": {"name", "backup_type", "rotation", "metadata"?}}
// (Nova at 2.1): a snapshot image with image_type=backup and backup_type, then this server's
// older backups of the same type beyond `rotation` are deleted (0 keeps none). 202 with
// Location naming the new image when rotation > 0, empty body (the id is in Location below 2.45).
import { badRequest } from '../errors/index.js';
import { checkName } from './text-rules.js';
import {
  MAX_SERVER_META,
  argObject,
  checkMetadata,
  hostOf,
  createInstanceImage,
  recordAction,
  sendCast,
  type ActionCall,
  type ActionOutcome,
  type ServerActionSpec,
} from './server-common.js';

/** Nova: backup from ACTIVE, STOPPED, PAUSED, SUSPENDED. */
export const BACKUP_FROM = ['active', 'stopped', 'paused', 'suspended'];

interface BackupArgs {
  name: string;
  backupType: string;
  rotation: number;
  metadata: Record<string, string>;
}

function parseBackup(arg: unknown): BackupArgs {
  const a = argObject(
    'createBackup',
    arg,
    ['name', 'backup_type', 'rotation', 'metadata'],
    ['name', 'backup_type', 'rotation'],
  );
  const name = checkName('name', a.name);
  if (typeof a.backup_type !== 'string')
    throw badRequest('Invalid input for field/attribute backup_type: it must be a string (e.g. daily).');
  const rot = typeof a.rotation === 'string' && /^\d+$/.test(a.rotation) ? Number(a.rotation) : a.rotation;
  if (typeof rot !== 'number' || !Number.isInteger(rot) || rot < 0)
    throw badRequest('Invalid input for field/attribute rotation: it must be a whole number ≥ 0.');
  return {
    name,
    backupType: a.backup_type,
    rotation: rot,
    metadata: checkMetadata(a.metadata, MAX_SERVER_META),
  };
}

export const createBackupAction: ServerActionSpec<BackupArgs> = {
  parse: parseBackup,
  lock: true,
  states: BACKUP_FROM,
  task: 'image_backup',
  run: createBackup,
};

async function createBackup(c: ActionCall<BackupArgs>): Promise<ActionOutcome> {
  const { env, ctx, inst, arg } = c;
  const host = await hostOf(env, inst, 'createBackup');
  await c.startTask();
  let imageId: string;
  try {
    const image = await createInstanceImage(env.repos, env.images, ctx, inst, arg.name, 'backup', {
      ...arg.metadata,
      backup_type: arg.backupType,
    });
    imageId = image.id;
  } catch (e) {
    await env.repos.instances.update(inst.uuid, { taskState: null });
    throw e;
  }
  const actionId = await recordAction(env, ctx, inst, 'createBackup');
  await sendCast(env, host, 'backup', {
    instanceUuid: inst.uuid,
    actionId,
    imageId,
    backupType: arg.backupType,
    rotation: arg.rotation,
  });
  return { kind: 'backup', imageId: arg.rotation > 0 ? imageId : undefined };
}
