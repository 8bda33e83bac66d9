// Compute hosts' reports of themselves (migration 0005): one JSON document per host, replaced
// by each new report. The document's shape is the agent contract's HostReport; this layer
// stores and returns it without reading it.
import type { Db } from './util.js';

export interface HostReportRecord {
  host: string;
  report: Record<string, unknown>;
  reportedAt: string;
}

export class HostReportRepo {
  constructor(private readonly db: Db) {}

  async publish(host: string, report: Record<string, unknown>, reportedAt: string): Promise<void> {
    const text = JSON.stringify(report);
    await this.db
      .insertInto('compute_host_reports')
      .values({ host, report: text, reported_at: reportedAt })
      .onConflict((oc) => oc.column('host').doUpdateSet({ report: text, reported_at: reportedAt }))
      .execute();
  }

  async list(): Promise<HostReportRecord[]> {
    const rows = await this.db.selectFrom('compute_host_reports').selectAll().orderBy('host').execute();
    return rows.map((r) => ({
      host: r.host,
      report: JSON.parse(r.report) as Record<string, unknown>,
      reportedAt: r.reported_at,
    }));
  }

  async get(host: string): Promise<HostReportRecord | undefined> {
    return (await this.list()).find((r) => r.host === host);
  }
}
