// The floor pseudo-broker refuses bad input with a clear error (a stable code naming the field)
// and keeps going: bad flags end the process with a usage message (exit 2, no retry loop); bad
// frames get an ERROR frame and the connection stays usable. Real process, raw WebSocket.
import t from 'tap';
import { FrameWriter, Op, type ServerFrame } from '../loadtest/floor-frames.js';
import { RawFloorSocket, runFloorServer, startFloor } from './helpers/floor.js';

t.test('bad flags: exit 2 with what is wrong and the usage', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--hops is required/],
    [['--hops', '3'], /--hops: 3; must be 2/],
    [['--hops', '2', '--sync'], /--sync and --workers need --hops 4/],
    [['--hops', '4', '--workers', '0'], /--workers: 0 is not an integer from 1 to 16/],
    [['--hops', '4', '--port', 'x'], /--port: x is not an integer/],
    [['--hops', '4', '--bogus'], /unknown argument --bogus/],
    [['--hops'], /--hops needs a value/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runFloorServer(args);
    t.equal(code, 2, `${args.join(' ') || '(none)'}: exit 2`);
    t.match(stderr, message);
    t.match(stderr, /usage: floor-server --hops 2\|4/);
  }
});

/** An error frame as `code id`, anything else as its op. */
const show = (f: ServerFrame): string => (f.op === Op.error ? `${f.code} ${f.id}` : f.op === Op.ok ? `ok ${f.id}` : `push ${f.sub}`);

function frame(write: (w: FrameWriter) => void): Uint8Array {
  const w = new FrameWriter();
  write(w);
  return w.take();
}

for (const hops of ['2', '4']) {
  t.test(`hops=${hops}: each bad frame gets its error code, and the connection stays usable`, async (t) => {
    const floor = await startFloor(t, ['--hops', hops]);
    const ws = await RawFloorSocket.open(floor.url);
    t.teardown(() => ws.close());
    const other = await RawFloorSocket.open(floor.url);
    t.teardown(() => other.close());
    const steps: Array<[Uint8Array | string, string]> = [
      ['hello', 'BadFrame 0'],
      [new Uint8Array([Op.publish, 1, 0]), 'BadFrame 0'],
      [new Uint8Array([9, 7, 0, 0, 0]), 'BadOp 7'],
      [new Uint8Array([Op.create, 8, 0, 0, 0, 0]), 'BadQueue 8'],
      [new Uint8Array([Op.create, 9, 0, 0, 0, 2, 0xff, 0xfe]), 'BadQueue 9'],
      [frame((w) => w.admin(Op.create, 10, 'q')), 'ok 10'],
      [frame((w) => w.admin(Op.create, 11, 'q')), 'QueueExists 11'],
      [frame((w) => w.publish(12, 'nope', [new Uint8Array(4)])), 'NoSuchQueue 12'],
      [frame((w) => w.subscribe(13, 'q', 0)), 'BadPrefetch 13'],
      [frame((w) => w.ack(14, 'q', 1)), 'NoSuchSubscription 14'],
      [frame((w) => w.subscribe(15, 'q', 5)), 'ok 15'],
      // A publish of 0 bodies: the count is checked before any body is read.
      [(() => { const b = frame((w) => w.publish(16, 'q', [new Uint8Array(1)])); b.set([0, 0, 0, 0], 7); return b.subarray(0, 11); })(), 'BadCount 16'],
      // A body length past the end of the message.
      [(() => { const b = frame((w) => w.publish(17, 'q', [new Uint8Array(8)])); return b.subarray(0, b.byteLength - 1); })(), 'BadFrame 17'],
    ];
    for (const [bytes, expected] of steps) {
      const before = ws.frames.length;
      ws.send(bytes);
      const [f] = await ws.waitFrames(before + 1, before);
      t.equal(show(f!), expected, `${expected}`);
    }
    // Another connection may not consume a queue that has a consumer.
    other.send(frame((w) => w.subscribe(1, 'q', 5)));
    t.same((await other.waitFrames(1)).map(show), ['AlreadyConsumed 1']);
    // Still usable: a good publish after all that is confirmed and pushed to the subscription.
    const before = ws.frames.length;
    ws.send(frame((w) => w.publish(20, 'q', [new Uint8Array([42])])));
    const after = await ws.waitFrames(before + 2, before);
    t.same(after.map(show).sort(), ['ok 20', 'push 15']);
    const push = after.find((f) => f.op === Op.push);
    t.same(push?.op === Op.push ? [...push.bodies[0]!] : [], [42]);
    t.equal(ws.closed, undefined, 'the connection is still open');
  });
}
