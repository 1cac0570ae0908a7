/** Queue tags (SQS Developer Guide, "Tagging your queues"): at most 50, keys 1–128, values 0–256 characters. */
import { invalidValue } from './errors.js';

export const MAX_TAGS = 50;

export function validateTags(tags: Record<string, string>, param = 'Tags'): Record<string, string> {
  for (const [k, v] of Object.entries(tags)) {
    if (k.length < 1 || k.length > 128) throw invalidValue(param, `Tag key must be 1 to 128 characters: ${k.slice(0, 128)}`);
    if (v.length > 256) throw invalidValue(param, `Tag value must be at most 256 characters (key ${k}).`);
  }
  return tags;
}

export function checkTagCount(tags: Record<string, string>): void {
  if (Object.keys(tags).length > MAX_TAGS) throw invalidValue('Tags', `Too many tags added for queue: at most ${MAX_TAGS}.`);
}
