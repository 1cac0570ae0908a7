/**
 * The messages of one push as an actor hands them to its outbox. The shard's outbox encodes them
 * at once into the push's CBOR bytes; in queue mode (LeasedDeliveries) they are written from the
 * actor's own message records, receipts straight into the bytes: no DeliveredMessage object and
 * no receipt string per pushed message (profiled: those and their garbage were about a tenth of a
 * shard worker's time in consume ×1). `messages()` gives the same values as objects, for outboxes
 * that do not encode (tests) and for a message with optional fields.
 *
 * A LeasedDeliveries reads the actor's live records: it is valid only until the actor's next
 * change, so an outbox writes or copies it within the `push` call.
 */
import type { CborWriter, ReceiptWriter } from '../protocol/cbor-writer.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { MESSAGE_ID_CHARS } from '../storage/message-id.js';
import { DERIVED_ID, type Msg } from './message.js';
import { RECEIPT_CHARS, receiptString, writeReceipt } from './receipt.js';

/** A queue incarnation's message ids derived from sequences (message-id.ts), as text and as bytes. */
export interface DerivedIds {
  text(seq: number): string;
  write(out: Uint8Array, at: number, seq: number): void;
}

export interface Deliveries {
  readonly count: number;
  /** Appends them to `w` as one CBOR array: the bytes `w.encodeMessages(this.messages())` writes. */
  writeTo(w: CborWriter): void;
  messages(): DeliveredMessage[];
}

/** Messages already made as objects (stream mode: each carries its group's delivery fields). */
export class DeliveredList implements Deliveries {
  constructor(readonly list: DeliveredMessage[]) {}

  get count(): number {
    return this.list.length;
  }

  writeTo(w: CborWriter): void {
    w.arrayHead(this.list.length);
    for (const m of this.list) w.message(m);
  }

  messages(): DeliveredMessage[] {
    return this.list;
  }
}

/**
 * Queue mode: messages just leased by one actor run (`issuer`), with their bodies; a message whose
 * id is DERIVED_ID gets the one `ids` derives from its sequence.
 */
export class LeasedDeliveries implements Deliveries, ReceiptWriter {
  readonly chars = RECEIPT_CHARS;
  readonly idChars = MESSAGE_ID_CHARS;

  constructor(
    readonly msgs: readonly Msg[],
    readonly bodies: readonly Uint8Array[],
    readonly qidHi: number,
    readonly qidLo: number,
    readonly issuer: number,
    readonly ids: DerivedIds,
  ) {}

  get count(): number {
    return this.msgs.length;
  }

  writeReceipt(out: Uint8Array, at: number, seq: number, receiveCount: number): void {
    writeReceipt(out, at, this.qidHi, this.qidLo, seq, receiveCount, this.issuer);
  }

  writeId(out: Uint8Array, at: number, seq: number): void {
    this.ids.write(out, at, seq);
  }

  writeTo(w: CborWriter): void {
    const n = this.msgs.length;
    w.arrayHead(n);
    for (let i = 0; i < n; i++) {
      const m = this.msgs[i]!;
      if (m.attributes === undefined && m.extra === undefined) {
        w.plainMessage(m.id === DERIVED_ID ? undefined : m.id, this, this.bodies[i]!, m.seq, m.receiveCount, m.sentAt, m.firstReceivedAt);
      }
      else w.message(this.#message(i));
    }
  }

  messages(): DeliveredMessage[] {
    const out = new Array<DeliveredMessage>(this.msgs.length);
    for (let i = 0; i < out.length; i++) out[i] = this.#message(i);
    return out;
  }

  #message(i: number): DeliveredMessage {
    const m = this.msgs[i]!;
    const d = deliveredMessage(m, receiptString(this.qidHi, this.qidLo, m.seq, m.receiveCount, this.issuer), this.bodies[i]!);
    if (d.messageId === DERIVED_ID) d.messageId = this.ids.text(m.seq);
    return d;
  }
}

/** What a receiver or subscriber gets for message `m`, as an object. */
export function deliveredMessage(m: Msg, receipt: string, body: Uint8Array): DeliveredMessage {
  const d: DeliveredMessage = {
    messageId: m.id,
    receipt,
    body,
    seq: m.seq,
    receiveCount: m.receiveCount,
    sentAt: m.sentAt,
    firstReceivedAt: m.firstReceivedAt,
  };
  if (m.attributes !== undefined) d.attributes = m.attributes;
  const x = m.extra;
  if (x !== undefined) {
    if (x.groupId !== undefined) d.groupId = x.groupId;
    if (x.timestamp !== undefined) d.timestamp = x.timestamp;
    if (x.producer !== undefined) d.producer = x.producer;
    if (x.late === true) d.late = true;
    if (x.deadLetter !== undefined) d.deadLetter = x.deadLetter;
  }
  return d;
}
