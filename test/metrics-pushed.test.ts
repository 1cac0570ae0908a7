// GET /metrics counts messages delivered by push subscriptions per queue, beside sends and deletes.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect } from '../src/client/index.js';

t.test('pushed, sent and deleted messages are counted per queue', async (t) => {
  const broker = await startBroker(t);
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('pushed-q');
  await client.queue('pushed-q').sendBatch(['a', 'b', 'c']);
  let got = 0;
  const consumer = await client.queue('pushed-q').consume(() => {
    got++;
  }, { prefetch: 10 });
  const until = Date.now() + 10_000;
  let text = '';
  while (Date.now() < until) {
    text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    if (got === 3 && /ferry_messages_total\{queue="pushed-q",event="deleted"\} 3/.test(text)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await consumer.close();
  t.match(text, /ferry_messages_total\{queue="pushed-q",event="sent"\} 3/);
  t.match(text, /ferry_messages_total\{queue="pushed-q",event="pushed"\} 3/);
  t.match(text, /ferry_messages_total\{queue="pushed-q",event="deleted"\} 3/);
});
