const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TYPE_NAME = /^[A-Za-z0-9._-]{1,256}$/;

/** A GUID in the 8-4-4-4-12 form, any letter case. */
export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

/** An item type or job type as Fabric sends it: 1 to 256 of [A-Za-z0-9._-]. */
export function isTypeName(value: unknown): value is string {
  return typeof value === 'string' && TYPE_NAME.test(value);
}

export const TYPE_NAME_RULE = '1 to 256 characters of letters, digits, ".", "_" or "-"';
