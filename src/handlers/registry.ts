import type { ItemHandler } from './itemHandler';
import type { JobHandler } from './jobHandler';

/**
 * Job handlers keyed by (itemType, jobType) and item handlers keyed by item
 * type, matched case-insensitively as Fabric's type names are. Create asks it
 * before it writes anything (an unknown pair is `400 UnknownJobType`, an
 * unknown item type `400 UnknownItemType`); the runner asks it for the work.
 */
export class HandlerRegistry {
  private readonly jobs = new Map<string, JobHandler>();
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
