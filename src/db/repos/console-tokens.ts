// Console tokens by their hash: issue, spend once, forget on expiry or when the instance goes.
import { type Db, nowIso } from './util.js';

export type ConsoleType = 'novnc' | 'serial';

export interface ConsoleTokenRecord {
  tokenHash: string;
  consoleType: ConsoleType;
  instanceUuid: string;
  projectId: string;
  host: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

/** What spending a token found: the record (spent now), or why it cannot be spent. */
export type SpendResult =
  | { ok: true; token: ConsoleTokenRecord }
  | { ok: false; reason: 'unknown' | 'used' | 'expired'; token?: ConsoleTokenRecord };

interface Row {
  token_hash: string;
  console_type: string;
  instance_uuid: string;
  project_id: string;
  host: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

function fromRow(r: Row): ConsoleTokenRecord {
  return {
    tokenHash: r.token_hash,
    consoleType: r.console_type as ConsoleType,
    instanceUuid: r.instance_uuid,
    projectId: r.project_id,
    host: r.host,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
  };
}

export class ConsoleTokenRepo {
  constructor(private readonly db: Db) {}

  async insert(t: Omit<ConsoleTokenRecord, 'usedAt' | 'createdAt'>): Promise<void> {
    await this.db
      .insertInto('console_auth_tokens')
      .values({
        token_hash: t.tokenHash,
        console_type: t.consoleType,
        instance_uuid: t.instanceUuid,
        project_id: t.projectId,
        host: t.host,
        created_at: nowIso(),
        expires_at: t.expiresAt,
        used_at: null,
      })
      .execute();
  }

  /** Marks the token spent if it is unspent and unexpired — one statement, so two connections can't both win. */
  async spend(tokenHash: string, now = nowIso()): Promise<SpendResult> {
    const won = await this.db
      .updateTable('console_auth_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    if (won) return { ok: true, token: fromRow(won) };
    const r = await this.db
      .selectFrom('console_auth_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!r) return { ok: false, reason: 'unknown' };
    const token = fromRow(r);
    return { ok: false, reason: token.usedAt ? 'used' : 'expired', token };
  }

  async deleteForInstance(instanceUuid: string): Promise<void> {
    await this.db.deleteFrom('console_auth_tokens').where('instance_uuid', '=', instanceUuid).execute();
  }

  /** Forgets tokens that expired before `before`. */
  async purgeExpired(before: string): Promise<number> {
    const r = await this.db
      .deleteFrom('console_auth_tokens')
      .where('expires_at', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
