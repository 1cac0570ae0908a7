/** RemovePermission (SQS API Reference, "RemovePermission"): removes the statement with Sid = Label. */
import type { ActionHandler } from '../action.js';
import { invalidValue } from '../errors.js';
import { reqString } from '../input.js';
import { readPolicy, writePolicy } from '../policy.js';
import { queueMetadata, queueOf } from '../queues.js';

export const removePermission: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const label = reqString(input, 'Label');
  const { meta } = await queueMetadata(ctx, queue);
  const policy = readPolicy(meta.attributes.Policy);
  const kept = policy.Statement.filter((s) => s.Sid !== label);
  if (kept.length === policy.Statement.length) throw invalidValue('Label', "can't find label.", label);
  policy.Statement = kept;
  const attributes = { ...meta.attributes };
  if (kept.length === 0) delete attributes.Policy;
  else attributes.Policy = writePolicy(policy);
  await ctx.meta.put(queue, { ...meta, attributes });
  return undefined;
};
