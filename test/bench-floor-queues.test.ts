// The floor pseudo-broker's queues (loadtest/floor-queues.ts): a credit window per consumer,
// pushes once per turn, acks as credit, the errors of each wrong request, and the size cap.
import t from 'tap';
import { bodiesOf, FloorQueues, type FloorOutput } from '../loadtest/floor-queues.js';

type Event = ['ok' | 'confirm', number, number] | ['error', number, number, string] | ['push', number, number, number[]];

/** The queues' answers, in order; a push as the first byte of each body. */
function recorder(): { out: FloorOutput; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    out: {
      ok: (s, id) => events.push(['ok', s, id]),
      confirm: (s, id) => events.push(['confirm', s, id]),
      error: (s, id, code) => events.push(['error', s, id, code]),
      push: (s, sub, bodies) => events.push(['push', s, sub, bodies.map((b) => b[0]!)]),
    },
  };
}

/** Bodies numbered from `from`, each `size` bytes starting with its number, as one publish. */
function numbered(from: number, n: number, size = 4): ReturnType<typeof bodiesOf> {
  const bytes = new Uint8Array(n * size);
  const views = Array.from({ length: n }, (_, i) => {
    bytes[i * size] = from + i;
    return bytes.subarray(i * size, (i + 1) * size);
  });
  return bodiesOf(bytes, views);
}

t.test('a consumer gets at most its credit; each ack gives credit back; pushes wait for the end of the turn', async (t) => {
  const { out, events } = recorder();
  const q = new FloorQueues(out);
  q.create(1, 1, 'q');
  q.subscribe(2, 7, 'q', 2);
  t.ok(q.publish(1, 2, 'q', numbered(0, 3)));
  q.publish(1, 3, 'q', numbered(3, 2));
  t.same(events, [['ok', 1, 1], ['ok', 2, 7], ['confirm', 1, 2], ['confirm', 1, 3]], 'nothing pushed before the turn ends');
  events.length = 0;
  q.endTurn();
  t.same(events, [['push', 2, 7, [0, 1]]], 'one push of the credit');
  t.equal(q.depth('q'), 3);
  events.length = 0;
  q.ack(2, 7, 'q', 1);
  q.endTurn();
  q.ack(2, 7, 'q', 1);
  q.ack(2, 7, 'q', 5);
  q.endTurn();
  t.same(events, [['push', 2, 7, [2]], ['push', 2, 7, [3, 4]]], 'in order, across publishes');
  t.equal(q.depth('q'), 0);
  events.length = 0;
  q.endTurn();
  t.same(events, [], 'nothing left to push');
});

t.test('wrong requests are answered with their error and change nothing', async (t) => {
  const { out, events } = recorder();
  const q = new FloorQueues(out);
  q.create(1, 1, 'q');
  q.create(1, 2, 'q');
  t.equal(q.publish(1, 3, 'nope', numbered(0, 1)), false);
  q.subscribe(1, 4, 'nope', 10);
  q.subscribe(2, 5, 'q', 10);
  q.subscribe(3, 6, 'q', 10);
  q.ack(3, 6, 'q', 1);
  q.ack(2, 99, 'q', 1);
  q.delete(1, 7, 'nope');
  t.same(events.map((e) => (e[0] === 'error' ? `${e[2]} ${e[3]}` : `${e[0]} ${e[2]}`)), [
    'ok 1', '2 QueueExists', '3 NoSuchQueue', '4 NoSuchQueue', 'ok 5', '6 AlreadyConsumed', '6 NoSuchSubscription', '99 NoSuchSubscription', '7 NoSuchQueue',
  ]);
  t.equal(q.size, 1);
});

t.test('a closed session loses its subscriptions; a deleted queue pushes nothing more', async (t) => {
  const { out, events } = recorder();
  const q = new FloorQueues(out);
  q.create(1, 1, 'a');
  q.create(1, 2, 'b');
  q.subscribe(2, 3, 'a', 10);
  q.subscribe(2, 4, 'b', 10);
  q.gone(2);
  q.publish(1, 5, 'a', numbered(0, 1));
  q.endTurn();
  t.notOk(events.some((e) => e[0] === 'push'), 'no push to a gone session');
  q.subscribe(3, 6, 'a', 10);
  q.publish(1, 7, 'b', numbered(1, 1));
  q.subscribe(3, 8, 'b', 10);
  q.delete(1, 9, 'b');
  events.length = 0;
  q.endTurn();
  t.same(events, [['push', 3, 6, [0]]], 'the new consumer gets what waited; the deleted queue nothing');
  t.equal(q.depth('b'), undefined);
});

t.test('a queue holds at most its byte cap: the oldest publishes are dropped and counted', async (t) => {
  const { out, events } = recorder();
  const q = new FloorQueues(out, 100);
  q.create(1, 1, 'q');
  for (let i = 0; i < 10; i++) q.publish(1, 2 + i, 'q', numbered(i * 2, 2, 10));
  t.equal(q.depth('q'), 10, '5 publishes of 20 bytes fit in 100');
  t.equal(q.dropped('q'), 10);
  q.publish(1, 20, 'q', numbered(100, 1, 500));
  t.equal(q.depth('q'), 1, 'a publish bigger than the cap is kept, alone');
  q.subscribe(2, 21, 'q', 10);
  events.length = 0;
  q.endTurn();
  t.same(events, [['push', 2, 21, [100]]]);
});
