// A delete during a build wins: the build checks between its steps whether a delete was asked
// for (a delete waiting for the instance's lock, or the row already deleted / deleting) and
// stops; its revert stack removes what it had made, and the delete finishes the rest.
import type { Repositories } from '../db/index.js';

export class BuildCancelled extends Error {
  constructor(readonly uuid: string) {
    super(`the build of instance ${uuid} was cancelled: the instance is being deleted`);
    this.name = 'BuildCancelled';
  }
}

/** Throws BuildCancelled when instance uuid is being (or has been) deleted. */
export async function cancelIfDeleted(
  repos: Repositories,
  uuid: string,
  deleteRequested: ReadonlySet<string>,
): Promise<void> {
  if (deleteRequested.has(uuid)) throw new BuildCancelled(uuid);
  const inst = await repos.instances.get(uuid);
  if (!inst || inst.taskState === 'deleting') throw new BuildCancelled(uuid);
}
