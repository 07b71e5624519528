const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A GUID in the 8-4-4-4-12 form, any letter case. */
export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}
