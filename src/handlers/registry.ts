import type { ItemHandler } from './itemHandler';
import type { JobHandler } from './jobHandler';

/**
 * Job handlers keyed by (itemType, jobType) and item handlers keyed by item
 * type, matched case-insensitively as Fabric's type names are. Create asks it
 * before it writes anything (an unknown pair is `400 UnknownJobType`, an
 * unknown item type `400 UnknownItemType`); the runner asks it for the work.
 */
export class HandlerRegistry {
  private readonly jobs = new Map<string, JobType>();
  private readonly items = new Map<string, ItemHandler>();

  /** Registers the rules of one item type (CreateItem, UpdateItem, GetItemPayload); a second registration is a mistake. */
  item(itemType: string, handler: ItemHandler): this {
    const key = itemType.toLowerCase();
    if (this.items.has(key)) throw new Error(`an item handler for ${itemType} is already registered`);
    this.items.set(key, handler);
    return this;
  }

  findItem(itemType: string): ItemHandler | undefined {
    return this.items.get(itemType.toLowerCase());
  }

  /**
   * Registers the handler of one job type of one item type; a second
   * registration of the same pair is a mistake. `scopes`: what the handler
   * asks for on the user's behalf (e.g. OneLake's
   * `https://storage.azure.com/user_impersonation`). A job type with scopes
   * has its Create check them first (the user is asked to consent while they
   * are there) and its jobs keep the user's token while they run.
   */
  job(itemType: string, jobType: string, handler: JobHandler, options: { scopes?: readonly string[] } = {}): this {
    const key = jobKey(itemType, jobType);
    if (this.jobs.has(key)) throw new Error(`a job handler for ${itemType} / ${jobType} is already registered`);
    const scopes = Object.freeze([...(options.scopes ?? [])]);
    if (scopes.some((scope) => !/^\S+$/.test(scope)))
      throw new Error(`the scopes of ${itemType} / ${jobType} must be strings without spaces`);
    this.jobs.set(key, { handler, scopes });
    return this;
  }

  findJob(itemType: string, jobType: string): JobHandler | undefined {
    return this.jobs.get(jobKey(itemType, jobType))?.handler;
  }

  /** The scopes a job type declared; empty for one that declared none (or is unknown). */
  scopesOf(itemType: string, jobType: string): readonly string[] {
    return this.jobs.get(jobKey(itemType, jobType))?.scopes ?? [];
  }

  /** Whether any job type acts for its user: then the app needs its client credential and the assertion key. */
  get actsForUsers(): boolean {
    return [...this.jobs.values()].some((type) => type.scopes.length > 0);
  }
}

interface JobType {
  handler: JobHandler;
  scopes: readonly string[];
}

function jobKey(itemType: string, jobType: string): string {
  // Type names are [A-Za-z0-9._-]: "/" cannot occur in either.
  return `${itemType.toLowerCase()}/${jobType.toLowerCase()}`;
}
