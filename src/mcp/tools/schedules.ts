import { z } from 'zod';
import { confirmArg, defineTool } from '../tool.js';
import { ok } from '../results.js';

const schedule = z.record(z.string(), z.unknown());

export const listSchedules = defineTool(
  {
    name: 'list-schedules',
    group: 'functions',
    description: 'Schedules that run functions on a cron, with their next and last run.',
    input: {},
    output: { schedules: z.array(schedule) },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, _args, extra) => ok({ schedules: await ctx.client().listSchedules(extra.signal) }),
);

export const createSchedule = defineTool(
  {
    name: 'create-schedule',
    group: 'functions',
    description: 'Run a function on a cron: POSTs body to it. Runs show in get-logs functions.',
    input: {
      functionSlug: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only'),
      cron: z.string().min(1).max(100).describe('"*/5 * * * *"; embedded: seconds first as 6 fields'),
      body: z.record(z.string(), z.unknown()).optional(),
    },
    output: { schedule },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  async (ctx, args, extra) => ok({ schedule: await ctx.client().createSchedule(args.functionSlug, args.cron, args.body, extra.signal) }),
);

export const deleteSchedule = defineTool(
  {
    name: 'delete-schedule',
    group: 'functions',
    description: 'Delete a schedule.',
    input: { id: z.string().min(1).max(100), confirm: confirmArg },
    output: { deleted: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    destroys: ({ id }) => `delete the schedule ${id}`,
  },
  async (ctx, args, extra) => {
    await ctx.client().deleteSchedule(args.id, extra.signal);
    return ok({ deleted: true });
  },
);

export const scheduleTools = [listSchedules, createSchedule, deleteSchedule];
