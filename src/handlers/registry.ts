import type { JobHandler } from './jobHandler';

/**
 * Job handlers keyed by (itemType, jobType), matched case-insensitively as
 * Fabric's type names are. Create asks it before it writes anything (an
 * unknown pair is `400 UnknownJobType`); the runner asks it for the work.
 */
export class HandlerRegistry {
  private readonly jobs = new Map<string, JobHandler>();

  /** Registers the handler of one job type of one item type; a second registration of the same pair is a mistake. */
  job(itemType: string, jobType: string, handler: JobHandler): this {
    const key = jobKey(itemType, jobType);
    if (this.jobs.has(key)) throw new Error(`a job handler for ${itemType} / ${jobType} is already registered`);
    this.jobs.set(key, handler);
    return this;
  }

  findJob(itemType: string, jobType: string): JobHandler | undefined {
    return this.jobs.get(jobKey(itemType, jobType));
  }
}

function jobKey(itemType: string, jobType: string): string {
  // Type names are [A-Za-z0-9._-]: "/" cannot occur in either.
  return `${itemType.toLowerCase()}/${jobType.toLowerCase()}`;
}
