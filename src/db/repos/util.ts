// Small helpers shared by the repositories.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

export type Db = Kysely<Database> | Transaction<Database>;

export function nowIso(): string {
  return new Date().toISOString();
}

export const toInt = (b: boolean): number => (b ? 1 : 0);
export const toBool = (n: number | null | undefined): boolean => n === 1 || (n as unknown) === true;

/** Atomically takes the next value of a named counter (1, 2, 3 …), on SQLite and PostgreSQL. */
export async function nextCounter(db: Db, name: string): Promise<number> {
  await db
    .insertInto('counters')
    .values({ name, value: 0 })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db
    .updateTable('counters')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', '=', name)
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}
