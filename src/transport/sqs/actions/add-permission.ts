/**
 * AddPermission (SQS API Reference, "AddPermission"): adds a statement, named by Label, to the
 * queue's Policy (returned by GetQueueAttributes). Ferry stores the policy and does not enforce it.
 */
import type { ActionHandler } from '../action.js';
import { invalidValue, missingParameter } from '../errors.js';
import { optStringList, reqString } from '../input.js';
import { readPolicy, writePolicy } from '../policy.js';
import { queueArn } from '../queue-url.js';
import { queueMetadata, queueOf } from '../queues.js';

const LABEL_RE = /^[A-Za-z0-9_-]{1,80}$/;

export const addPermission: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const label = reqString(input, 'Label');
  if (!LABEL_RE.test(label)) throw invalidValue('Label', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.', label);
  const accounts = optStringList(input, 'AWSAccountIds');
  const actions = optStringList(input, 'Actions');
  if (accounts === undefined || accounts.length === 0) throw missingParameter('AWSAccountIds');
  if (actions === undefined || actions.length === 0) throw missingParameter('Actions');
  if (actions.length > 7) throw invalidValue('Actions', 'An Amazon SQS policy can have a maximum of seven actions per statement.');
  const { meta } = await queueMetadata(ctx, queue);
  const policy = readPolicy(meta.attributes.Policy);
  if (policy.Statement.some((s) => s.Sid === label)) throw invalidValue('Label', 'Already exists.', label);
  policy.Statement.push({
    Sid: label,
    Effect: 'Allow',
    Principal: { AWS: accounts.map((a) => `arn:aws:iam::${a}:root`) },
    Action: actions.map((a) => (a === '*' ? 'SQS:*' : `SQS:${a}`)),
    Resource: queueArn(ctx.id, queue),
  });
  if (policy.Id === undefined) policy.Id = `${queueArn(ctx.id, queue)}/SQSDefaultPolicy`;
  await ctx.meta.put(queue, { ...meta, attributes: { ...meta.attributes, Policy: writePolicy(policy) } });
  return undefined;
};
