// Receipt handles: the table-based base64url reader and writer against Node's own codec.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { decodeReceipt, encodeReceipt, readReceipt, receiptString, qidHalves, RECEIPT_CHARS } from '../src/actors/receipt.js';

t.test('a receipt is base64url of qid, seq, receive count and issuer, and reads back', async (t) => {
  for (let i = 0; i < 2000; i++) {
    const r = { qid: randomBytes(8).toString('hex'), seq: Math.floor(Math.random() * 2 ** 53), receiveCount: randomBytes(4).readUInt32BE(), issuer: randomBytes(4).readUInt32BE() };
    const s = encodeReceipt(r);
    const b = Buffer.alloc(24);
    Buffer.from(r.qid, 'hex').copy(b);
    b.writeBigUInt64BE(BigInt(r.seq), 8);
    b.writeUInt32BE(r.receiveCount, 16);
    b.writeUInt32BE(r.issuer, 20);
    if (s !== b.toString('base64url')) return t.fail(`encoding of ${JSON.stringify(r)}`);
    if (JSON.stringify(decodeReceipt(s)) !== JSON.stringify(r)) return t.fail(`decoding of ${s}`);
    const { hi, lo } = qidHalves(r.qid);
    if (receiptString(hi, lo, r.seq, r.receiveCount, r.issuer) !== s) return t.fail('receiptString');
  }
  t.pass('2000 random receipts');
});

t.test('anything else is not a receipt', async (t) => {
  const good = encodeReceipt({ qid: '0011223344556677', seq: 5, receiveCount: 1, issuer: 9 });
  t.ok(readReceipt(good));
  const bad = [
    '', 'x', good.slice(1), `${good}A`, `${good.slice(0, 31)}=`, `${good.slice(0, 31)}+`, `${good.slice(0, 31)}/`,
    `${good.slice(0, 31)}é`, `${good.slice(0, 31)}Ł`, `${good.slice(0, 31)}\u0141`, `é${good.slice(1)}`, ' '.repeat(RECEIPT_CHARS),
    // seq at 2^53: never issued
    (() => { const b = Buffer.alloc(24); b.writeUInt32BE(0x20_0000, 8); return b.toString('base64url'); })(),
  ];
  for (const s of bad) t.equal(readReceipt(s), undefined, JSON.stringify(s));
  for (const s of bad) t.equal(decodeReceipt(s), undefined, `decodeReceipt ${JSON.stringify(s)}`);
});
