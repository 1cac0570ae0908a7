// Router unit tests: its routing rules, with a scripted stand-in for the shard pool (the real pool
// runs worker threads; integration tests cover that path).
import t from 'tap';
import { Router } from '../src/supervisor/router.js';
import type { Answer, ShardPool } from '../src/supervisor/shard-pool.js';
import type { ToShard } from '../src/actors/shard-messages.js';
import { validateRequest, type ValidRequest } from '../src/protocol/validate.js';
import { ErrorCodes } from '../src/protocol/errors.js';
import { DEFAULT_QUEUE_ATTRIBUTES } from '../src/protocol/ops.js';

/** Records what the router sends each shard; the test answers by hand. */
class ScriptedPool {
  readonly size = 2;
  readonly sent: Array<{ shard: number; m: ToShard; done?: (a: Answer) => void }> = [];
  #r = 1;
  isUp(): boolean {
    return true;
  }
  request(shard: number, build: (r: number) => ToShard, done: (a: Answer) => void): void {
    this.sent.push({ shard, m: build(this.#r++), done });
  }
  broadcast(m: ToShard): void {
    for (let shard = 0; shard < this.size; shard++) this.sent.push({ shard, m });
  }
}

function setup(): { router: Router; pool: ScriptedPool } {
  const router = new Router({ push: () => {}, subEnd: () => {} });
  const pool = new ScriptedPool();
  router.attach(pool as unknown as ShardPool);
  return { router, pool };
}

let nextId = 1;
function req(op: string, args: Record<string, unknown>): ValidRequest {
  return validateRequest({ id: nextId++, op, args }, 256 * 1024);
}

t.test('requests for a queue being created wait for it, then run', async (t) => {
  const { router, pool } = setup();
  const answers: Answer[] = [];
  router.dispatch(1, req('createQueue', { queue: 'q' }), (a) => answers.push(a));
  router.dispatch(2, req('send', { queue: 'q', body: 'x' }), (a) => answers.push(a));
  t.same(pool.sent.map((s) => s.m.t), ['create'], 'only the create goes out while it runs');
  pool.sent[0]!.done!({ result: { queue: 'q', created: true, attributes: DEFAULT_QUEUE_ATTRIBUTES } });
  t.same(pool.sent.map((s) => s.m.t), ['create', 'req'], 'then the held send');
  t.match(pool.sent[1]!.m, { t: 'req', session: 2, req: { op: 'send' } });
});

t.test("a closed connection's held requests are dropped, not run after its closeSession", async (t) => {
  const { router, pool } = setup();
  const answers = new Map<string, Answer>();
  router.dispatch(1, req('createQueue', { queue: 'q' }), (a) => answers.set('create', a));
  router.dispatch(1, req('subscribe', { queue: 'q', credit: 5 }), (a) => answers.set('subscribe', a));
  router.dispatch(1, req('receive', { queue: 'q', waitMs: 20_000 }), (a) => answers.set('receive', a));
  router.dispatch(2, req('receive', { queue: 'q', waitMs: 20_000 }), (a) => answers.set('other', a));
  router.closeSession(1);
  t.match(answers.get('subscribe'), { error: { code: ErrorCodes.ConnectionClosed } }, 'the held subscribe is answered at once');
  t.match(answers.get('receive'), { error: { code: ErrorCodes.ConnectionClosed } }, 'the held long poll too');
  pool.sent[0]!.done!({ result: { queue: 'q', created: true, attributes: DEFAULT_QUEUE_ATTRIBUTES } });
  const reqs = pool.sent.filter((s) => s.m.t === 'req');
  t.equal(reqs.length, 1, 'only the open connection’s request reaches the shard');
  t.match(reqs[0]!.m, { session: 2, req: { op: 'receive' } });
  t.ok(answers.has('create'), 'the create itself is answered');
});

t.test('requests pipelined behind a deleteQueue are routed by the outcome', async (t) => {
  const { router, pool } = setup();
  const answers = new Map<string, Answer>();
  router.shardUp(1, [{ name: 'q', id: 'old', attributes: { ...DEFAULT_QUEUE_ATTRIBUTES, visibilityMs: 1, maxMessageBytes: 1 } }]);
  router.dispatch(1, req('deleteQueue', { queue: 'q' }), (a) => answers.set('delete', a));
  router.dispatch(1, req('send', { queue: 'q', body: 'x' }), (a) => answers.set('send', a));
  router.dispatch(1, req('createQueue', { queue: 'q' }), (a) => answers.set('create', a));
  t.same(pool.sent.map((s) => s.m.t), ['req'], 'only the delete goes out while it runs');
  pool.sent[0]!.done!({ result: { deleted: true } });
  t.match(answers.get('send'), { error: { code: ErrorCodes.QueueDoesNotExist } }, 'a send after the delete finds no queue');
  t.match(pool.sent[1]!.m, { t: 'create', name: 'q' }, 'the create makes a new queue instead of reaching the deleted one');
  t.not((pool.sent[1]!.m as { id: string }).id, 'old', 'with a new id');
  t.same([...answers.keys()], ['delete', 'send'], 'answers in request order');
});

t.test('a failed delete leaves the queue routed', async (t) => {
  const { router, pool } = setup();
  router.shardUp(0, [{ name: 'q', id: 'id0', attributes: { ...DEFAULT_QUEUE_ATTRIBUTES, visibilityMs: 1, maxMessageBytes: 1 } }]);
  router.dispatch(1, req('deleteQueue', { queue: 'q' }), () => {});
  router.dispatch(1, req('send', { queue: 'q', body: 'x' }), () => {});
  pool.sent[0]!.done!({ error: { code: ErrorCodes.ShardUnavailable, message: 'down', retryable: true } });
  t.match(pool.sent[1]!.m, { t: 'req', qid: 'id0', req: { op: 'send' } });
});

t.test('ShardUnavailable from the router itself says retryable', async (t) => {
  const router = new Router({ push: () => {}, subEnd: () => {} });
  let answer: Answer | undefined;
  router.dispatch(1, req('send', { queue: 'q', body: 'x' }), (a) => (answer = a));
  t.match(answer, { error: { code: ErrorCodes.ShardUnavailable, retryable: true } });
});

t.test('listQueues pages by name', async (t) => {
  const { router } = setup();
  router.shardUp(0, ['b', 'a', 'c', 'ab'].map((name) => ({ name, id: name, attributes: { ...DEFAULT_QUEUE_ATTRIBUTES, visibilityMs: 1, maxMessageBytes: 1 } })));
  const list = (args: Record<string, unknown>): unknown => {
    let out: Answer | undefined;
    router.dispatch(1, req('listQueues', args), (a) => (out = a));
    return out;
  };
  t.same(list({ limit: 2 }), { result: { queues: ['a', 'ab'], next: 'ab' } });
  t.same(list({ limit: 2, after: 'ab' }), { result: { queues: ['b', 'c'] } });
  t.same(list({ prefix: 'a' }), { result: { queues: ['a', 'ab'] } });
});

t.test('a new queue goes to the shard with the fewest queues, counting creates, deletes and shards coming back', async (t) => {
  const { router, pool } = setup();
  const attrs = { ...DEFAULT_QUEUE_ATTRIBUTES, visibilityMs: 1, maxMessageBytes: 1 };
  // Shard 0 comes up with three queues; one of them is reported again (a restart): counted once.
  router.shardUp(0, ['a', 'b', 'c'].map((name) => ({ name, id: name, attributes: attrs })));
  router.shardUp(0, [{ name: 'a', id: 'a', attributes: attrs }]);
  const create = (name: string): number => {
    router.dispatch(1, req('createQueue', { queue: name }), () => {});
    const sent = pool.sent.at(-1)!;
    sent.done!({ result: { queue: name, created: true, attributes: attrs } });
    return sent.shard;
  };
  t.same(['d', 'e', 'f'].map(create), [1, 1, 1], 'shard 1 fills up to shard 0');
  t.equal(create('g'), 0, 'then they alternate (a tie goes to the first)');
  router.dispatch(1, req('deleteQueue', { queue: 'a' }), () => {});
  pool.sent.at(-1)!.done!({ result: { deleted: true } });
  router.dispatch(1, req('deleteQueue', { queue: 'b' }), () => {});
  pool.sent.at(-1)!.done!({ result: { deleted: true } });
  t.equal(create('h'), 0, 'deleted queues no longer count');
  router.forget('c', { code: ErrorCodes.QueueDoesNotExist, message: 'moved' });
  router.place('x', 1, 'x');
  t.equal(create('i'), 0, 'forget and place count too');
  t.equal(router.queueCount, 7);
});
