// Validation of every queue attribute and send field of issue 3: each bad value gets a stable code
// naming the field (docs/queue-semantics.md lists names, ranges and defaults).
import t from 'tap';
import { mergeAttributes, queueAttributes } from '../src/protocol/attributes.js';
import { DEFAULT_QUEUE_ATTRIBUTES } from '../src/protocol/ops.js';
import { validateRequest } from '../src/protocol/validate.js';

const DAY = 24 * 60 * 60 * 1000;

function refused(frame: unknown): { code: string; field?: string } {
  try {
    validateRequest(frame, 1 << 20);
  } catch (err) {
    const e = (err as { error: { code: string; field?: string } }).error;
    return { code: e.code, ...(e.field === undefined ? {} : { field: e.field }) };
  }
  throw new Error('accepted');
}

t.test('defaults', async (t) => {
  t.match(DEFAULT_QUEUE_ATTRIBUTES, {
    retentionMs: 4 * DAY, deadLetter: null, maxLength: 0, maxBytes: 0, overflow: 'reject', ordering: 'relaxed',
    dedupWindowMs: 0, contentDedup: false, orderingWindowMs: 0, mode: 'queue',
  });
});

t.test('every attribute accepts its range and refuses outside it, naming the field', async (t) => {
  t.same(queueAttributes({
    retentionMs: 60_000, deadLetter: { queue: 'dlq', maxReceives: 5 }, maxLength: 10, maxBytes: 1000, overflow: 'dropHead',
    ordering: 'strict', dedupWindowMs: 1, contentDedup: true, orderingWindowMs: 100, mode: 'queue',
  }), {
    retentionMs: 60_000, deadLetter: { queue: 'dlq', maxReceives: 5 }, maxLength: 10, maxBytes: 1000, overflow: 'dropHead',
    ordering: 'strict', dedupWindowMs: 1, contentDedup: true, orderingWindowMs: 100, mode: 'queue',
  });
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ retentionMs: 59_999 }, 'ValueOutOfRange', 'attributes.retentionMs'],
    [{ retentionMs: 14 * DAY + 1 }, 'ValueOutOfRange', 'attributes.retentionMs'],
    [{ retentionMs: '1' }, 'InvalidField', 'attributes.retentionMs'],
    [{ deadLetter: 'dlq' }, 'InvalidField', 'attributes.deadLetter'],
    [{ deadLetter: { maxReceives: 1 } }, 'MissingField', 'attributes.deadLetter.queue'],
    [{ deadLetter: { queue: 'bad name', maxReceives: 1 } }, 'InvalidQueueName', 'attributes.deadLetter.queue'],
    [{ deadLetter: { queue: 'd' } }, 'MissingField', 'attributes.deadLetter.maxReceives'],
    [{ deadLetter: { queue: 'd', maxReceives: 0 } }, 'ValueOutOfRange', 'attributes.deadLetter.maxReceives'],
    [{ deadLetter: { queue: 'd', maxReceives: 1, extra: 1 } }, 'InvalidField', 'attributes.deadLetter.extra'],
    [{ maxLength: -1 }, 'ValueOutOfRange', 'attributes.maxLength'],
    [{ maxBytes: 1.5 }, 'InvalidField', 'attributes.maxBytes'],
    [{ overflow: 'drop' }, 'InvalidField', 'attributes.overflow'],
    [{ ordering: 'fifo' }, 'InvalidField', 'attributes.ordering'],
    [{ dedupWindowMs: DAY + 1 }, 'ValueOutOfRange', 'attributes.dedupWindowMs'],
    [{ contentDedup: 'yes' }, 'InvalidField', 'attributes.contentDedup'],
    [{ orderingWindowMs: 60_001 }, 'ValueOutOfRange', 'attributes.orderingWindowMs'],
    [{ mode: 'log' }, 'InvalidField', 'attributes.mode'],
    [{ nope: 1 }, 'InvalidAttribute', 'attributes.nope'],
  ];
  for (const [attrs, code, field] of cases) {
    t.match(refused({ id: 1, op: 'createQueue', args: { queue: 'q', attributes: attrs } }), { code, field }, JSON.stringify(attrs));
    t.match(refused({ id: 1, op: 'setQueueAttributes', args: { queue: 'q', attributes: attrs } }), { code, field }, `set ${JSON.stringify(attrs)}`);
  }
});

t.test('rules across attributes', async (t) => {
  t.throws(() => mergeAttributes('q', undefined, { deadLetter: { queue: 'q', maxReceives: 1 } }), { code: 'InvalidAttribute', field: 'attributes.deadLetter.queue' });
  t.throws(() => mergeAttributes('q', undefined, { overflow: 'deadLetterNew' }), { code: 'InvalidAttribute', field: 'attributes.overflow' });
  t.throws(() => mergeAttributes('q', undefined, { contentDedup: true }), { code: 'InvalidAttribute', field: 'attributes.contentDedup' });
  t.equal(mergeAttributes('q', undefined, { ordering: 'strict' }).dedupWindowMs, 300_000);
  t.equal(mergeAttributes('q', undefined, { ordering: 'strict', dedupWindowMs: 0 }).dedupWindowMs, 0, 'an explicit 0 wins');
  t.equal(mergeAttributes('q', undefined, { ordering: 'strict', contentDedup: true }).contentDedup, true);
  t.equal(mergeAttributes('q', undefined, { mode: 'stream' }).mode, 'stream');
  t.throws(() => mergeAttributes('q', mergeAttributes('q', undefined, {}), { mode: 'stream' }), { code: 'InvalidAttribute', field: 'attributes.mode' }, 'mode is fixed at create');
  t.throws(() => mergeAttributes('q', undefined, { mode: 'stream', ordering: 'strict' }), { code: 'InvalidAttribute', field: 'attributes.ordering' });
  t.throws(() => mergeAttributes('q', undefined, { mode: 'stream', orderingWindowMs: 5 }), { code: 'InvalidAttribute', field: 'attributes.orderingWindowMs' });
});

t.test('send fields', async (t) => {
  const ok = validateRequest({ id: 1, op: 'send', args: { queue: 'q', body: 'x', ttlMs: 5, groupId: 'g', dedupId: 'd', timestamp: 7, producer: 'p' } }, 100);
  t.match(ok.args, { ttlMs: 5, groupId: 'g', dedupId: 'd', timestamp: 7, producer: 'p' });
  t.match(refused({ id: 1, op: 'send', args: { queue: 'q', body: 'x', ttlMs: 0 } }), { code: 'ValueOutOfRange', field: 'ttlMs' });
  t.match(refused({ id: 1, op: 'send', args: { queue: 'q', body: 'x', groupId: '' } }), { code: 'InvalidField', field: 'groupId' });
  t.match(refused({ id: 1, op: 'send', args: { queue: 'q', body: 'x', dedupId: 'x'.repeat(129) } }), { code: 'InvalidField', field: 'dedupId' });
  t.match(refused({ id: 1, op: 'send', args: { queue: 'q', body: 'x', timestamp: -1 } }), { code: 'ValueOutOfRange', field: 'timestamp' });
  t.match(refused({ id: 1, op: 'send', args: { queue: 'q', body: 'x', producer: 5 } }), { code: 'InvalidField', field: 'producer' });
  t.match(refused({ id: 1, op: 'sendBatch', args: { queue: 'q', entries: [{ body: 'x', groupId: 3 }] } }), { code: 'InvalidField', field: 'entries.0.groupId' });
});

t.test('nack requeue and redrive ops', async (t) => {
  t.match(validateRequest({ id: 1, op: 'nack', args: { queue: 'q', receipt: 'r', requeue: false } }, 1).args, { requeue: false });
  t.match(refused({ id: 1, op: 'nack', args: { queue: 'q', receipt: 'r', requeue: 'no' } }), { code: 'InvalidField', field: 'requeue' });
  t.match(refused({ id: 1, op: 'nack', args: { queue: 'q', receipt: 'r', requeue: false, delayMs: 5 } }), { code: 'InvalidField', field: 'delayMs' });
  t.match(validateRequest({ id: 1, op: 'startRedrive', args: { queue: 'dlq', target: 'q', max: 5, ratePerSec: 10 } }, 1).args, { queue: 'dlq', target: 'q', max: 5, ratePerSec: 10 });
  t.match(refused({ id: 1, op: 'startRedrive', args: { queue: 'dlq', ratePerSec: 0 } }), { code: 'ValueOutOfRange', field: 'ratePerSec' });
  t.match(refused({ id: 1, op: 'startRedrive', args: { queue: 'dlq', target: 'no such!' } }), { code: 'InvalidQueueName', field: 'target' });
  t.match(refused({ id: 1, op: 'cancelRedrive', args: {} }), { code: 'MissingField', field: 'task' });
});

t.test('stream group ops', async (t) => {
  t.match(validateRequest({ id: 1, op: 'createGroup', args: { queue: 'q', group: 'g', start: { timestamp: 5 } } }, 1).args, { group: 'g', start: { timestamp: 5 } });
  t.match(validateRequest({ id: 1, op: 'seek', args: { queue: 'q', group: 'g', to: 'earliest' } }, 1).args, { to: 'earliest' });
  t.match(refused({ id: 1, op: 'createGroup', args: { queue: 'q' } }), { code: 'MissingField', field: 'group' });
  t.match(refused({ id: 1, op: 'createGroup', args: { queue: 'q', group: 'g', start: 'middle' } }), { code: 'InvalidField', field: 'start' });
  t.match(refused({ id: 1, op: 'createGroup', args: { queue: 'q', group: 'g', start: { offset: 1, timestamp: 2 } } }), { code: 'InvalidField', field: 'start' });
  t.match(refused({ id: 1, op: 'seek', args: { queue: 'q', group: 'g' } }), { code: 'MissingField', field: 'to' });
  t.match(refused({ id: 1, op: 'seek', args: { queue: 'q', group: 'g', to: { offset: 'x' } } }), { code: 'InvalidField', field: 'to.offset' });
  t.match(refused({ id: 1, op: 'receive', args: { queue: 'q', group: '' } }), { code: 'InvalidField', field: 'group' });
});
