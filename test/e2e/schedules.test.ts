/**
 * Schedules (issue 17): the embedded backend runs them (croner), persisted, one run at a time per
 * schedule, a run missed while stopped not made up; each run in the functions logs. Crons with a
 * seconds field, so the test waits seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, startTestBackend, type TestBackend } from '../support/backend.js';
import { call, stdioClient } from '../support/mcp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  executedAt: string;
  statusCode: number;
  success: boolean;
  durationMs: number;
}

describe.each(DB_KINDS)('schedules on %s', (kind) => {
  let b: TestBackend;
  let mcp: Client;
  let tickId: string;

  const connect = async () => ({ client: mcp } = await stdioClient(['--url', b.url]));
  const runsOf = async (id: string): Promise<Run[]> => (await b.api(`/api/schedules/${id}/logs?limit=100`)).json.logs;
  const scheduledLogs = async (id: string) => (await call(mcp, 'get-logs', { source: 'functions', search: id, limit: 1000 })).data.entries as { timestamp: string; durationMs: number; scheduleId: string; output: string[]; trigger: string; status: number }[];
  /** Waits until the schedule has run `n` times (the test's time limit is the bound). */
  const untilRuns = async (id: string, n: number) => {
    for (;;) {
      const runs = await runsOf(id);
      if (runs.length >= n) return runs;
      await sleep(250);
    }
  };

  beforeAll(async () => {
    b = await startTestBackend(kind);
    await connect();
    await call(mcp, 'deploy-function', { slug: 'tick', code: "module.exports = async function (req) { const body = await req.json(); console.log('tick ' + body.n); return Response.json(body) }" });
    await call(mcp, 'deploy-function', { slug: 'slow', code: 'module.exports = async function () { await new Promise((r) => setTimeout(r, 2500)); return new Response("done") }' });
  });
  afterAll(async () => {
    await mcp?.close();
    await b?.close();
  });

  it('create-schedule with a seconds field: it fires on time, and each run is in the functions logs', async () => {
    const { data } = await call(mcp, 'create-schedule', { functionSlug: 'tick', cron: '*/2 * * * * *', body: { n: 7 } });
    tickId = data.schedule.id;
    expect(data.schedule).toMatchObject({ id: expect.any(String), cronSchedule: '*/2 * * * * *', functionUrl: `${b.url}/functions/tick`, httpMethod: 'POST', body: { n: 7 }, isActive: true, nextRun: expect.any(String) });
    const due = new Date(data.schedule.nextRun).getTime();
    expect(new Date(data.schedule.nextRun).getUTCSeconds() % 2).toBe(0);
    const [first] = await untilRuns(tickId, 1);
    // not before its time; "on time" within what a shared machine allows
    expect(new Date(first!.executedAt).getTime()).toBeGreaterThanOrEqual(due - 50);
    expect(new Date(first!.executedAt).getTime() - due).toBeLessThan(5000);
    expect(first).toMatchObject({ statusCode: 200, success: true });
    const logged = await scheduledLogs(tickId);
    expect(logged[0]).toMatchObject({ slug: 'tick', trigger: 'schedule', scheduleId: tickId, status: 200, output: ['tick 7'] });
    const listed = (await call(mcp, 'list-schedules')).data.schedules;
    expect(listed).toEqual([expect.objectContaining({ id: tickId, lastExecutedAt: expect.any(String), nextRun: expect.any(String) })]);
  });

  it('one run at a time per schedule: a run still going makes the next one skip', async () => {
    const { data } = await call(mcp, 'create-schedule', { functionSlug: 'slow', cron: '* * * * * *' });
    const runs = await untilRuns(data.schedule.id, 2);
    await call(mcp, 'delete-schedule', { id: data.schedule.id, confirm: true });
    // executedAt is recorded when a run ends; durationMs back from there is when it began
    const began = runs.map((r) => new Date(r.executedAt).getTime() - r.durationMs).sort((x, y) => x - y);
    const ended = runs.map((r) => new Date(r.executedAt).getTime()).sort((x, y) => x - y);
    for (let i = 1; i < began.length; i++) expect(began[i]!).toBeGreaterThanOrEqual(ended[i - 1]! - 5);
  });

  it('persisted: after a restart it runs again, and what was due while stopped is not made up', async () => {
    const before = (await runsOf(tickId)).length;
    await mcp.close();
    await b.close();
    const stoppedAt = Date.now();
    await sleep(4500); // two runs due meanwhile
    b = await startTestBackend(kind, { dataDir: b.dataDir, backend: { databaseUrl: b.databaseUrl } });
    const startedAt = Date.now();
    await connect();
    expect((await call(mcp, 'list-schedules')).data.schedules.map((s: { id: string }) => s.id)).toEqual([tickId]);
    const runs = await untilRuns(tickId, before + 1);
    const times = runs.map((r) => new Date(r.executedAt).getTime());
    expect(times.filter((t) => t > stoppedAt && t < startedAt)).toEqual([]);
    // no burst of the missed runs at start: the runs after the restart keep their two seconds apart
    const after = times.filter((t) => t >= startedAt).sort((x, y) => x - y);
    expect(after.length).toBe(runs.length - before);
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBeGreaterThan(1000);
  });

  it('the v2 routes: checked fields, admin only, paused with PATCH', async () => {
    const post = (json: unknown, key?: 'anon') => b.api('/api/schedules', { method: 'POST', json, ...(key ? { key } : {}) });
    const valid = { name: 'every minute', cronSchedule: '* * * * *', functionUrl: `${b.url}/functions/tick`, httpMethod: 'POST' };
    expect((await post({ ...valid, cronSchedule: 'every day' })).json).toMatchObject({ statusCode: 400, message: expect.stringContaining('cronSchedule') });
    expect((await post({ ...valid, cronSchedule: '61 * * * *' })).status).toBe(400);
    expect((await post({ ...valid, functionUrl: 'https://example.com/elsewhere' })).json).toMatchObject({ statusCode: 400, message: expect.stringContaining('functionUrl') });
    expect((await post({ ...valid, functionUrl: `${b.url}/functions/never` })).json).toMatchObject({ statusCode: 404, error: 'FUNCTION_NOT_FOUND' });
    expect((await post({ ...valid, name: 'x' })).status).toBe(400);
    expect((await post(valid, 'anon')).status).toBe(401);
    const made = await post({ ...valid, cronSchedule: '30 seconds' });
    expect(made.json).toEqual({ id: expect.any(String), cronJobId: expect.any(String), message: 'Schedule created successfully' });
    expect((await b.api(`/api/schedules/${made.json.id}`)).json).toMatchObject({ cronSchedule: '30 seconds', nextRun: expect.any(String) });
    expect((await b.api(`/api/schedules/${made.json.id}`, { method: 'PATCH', json: { isActive: false } })).status).toBe(200);
    expect((await b.api(`/api/schedules/${made.json.id}`)).json).toMatchObject({ isActive: false, nextRun: null });
    expect((await b.api(`/api/schedules/${made.json.id}`, { method: 'DELETE' })).json).toEqual({ message: 'Schedule deleted successfully.' });
    expect((await b.api(`/api/schedules/${made.json.id}`)).status).toBe(404);
    expect((await b.api('/api/schedules/not-a-uuid')).status).toBe(404);
  });

  it('delete-schedule asks first; once deleted it fires no more', async () => {
    expect((await call(mcp, 'delete-schedule', { id: tickId }, { allowError: true })).data.error).toMatchObject({ status: 428 });
    expect((await call(mcp, 'delete-schedule', { id: tickId, confirm: true })).data).toEqual({ deleted: true });
    const logged = (await scheduledLogs(tickId)).length;
    await sleep(4500);
    expect((await scheduledLogs(tickId)).length).toBe(logged);
    expect((await call(mcp, 'list-schedules')).data.schedules).toEqual([]);
    expect((await call(mcp, 'delete-schedule', { id: tickId, confirm: true }, { allowError: true })).data.error).toMatchObject({ status: 404 });
  });
});
