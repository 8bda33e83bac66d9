// [scheduler] (nova/conf/scheduler.py): how a build that fails on its host is retried.
import { group, int } from './option.js';

export const schedulerGroup = group('scheduler', 'How the scheduler places builds and retries them.', {
  max_attempts: int({
    default: 3,
    min: 1,
    help: 'Hosts a build may be tried on: the first choice and alternates, taken in turn when a host fails or dies during the build. 1 means no retry.',
  }),
});
