/**
 * What SQS knows about a queue that the broker's queue model has no field for: tags, the access
 * policy (including AddPermission's statements), RedriveAllowPolicy, the encryption settings and
 * the FIFO throughput settings. Amazon enforces some of these; Ferry stores and returns them
 * (docs/sqs.md says which have no effect).
 *
 * Kept in one JSON file in the data directory (`sqs-metadata.json`), replaced atomically (write a
 * temporary file, fsync, rename) one write at a time. Each entry remembers the queue's `createdAt`
 * and counts only while the queue with that name has it, so a queue deleted and created again
 * (over either API) starts with no tags or policy, as on Amazon.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface QueueMetadata {
  createdAt: number;
  lastModified: number;
  tags: Record<string, string>;
  /** SQS attributes stored verbatim: Policy, RedriveAllowPolicy, KmsMasterKeyId, … */
  attributes: Record<string, string>;
}

export const METADATA_FILE = 'sqs-metadata.json';

export class SqsMetadataStore {
  readonly #path: string;
  #queues = new Map<string, QueueMetadata>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.#path = join(dir, METADATA_FILE);
  }

  static async open(dir: string): Promise<SqsMetadataStore> {
    const store = new SqsMetadataStore(dir);
    let text: string | undefined;
    try {
      text = await readFile(store.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let parsed: Record<string, QueueMetadata>;
      try {
        parsed = JSON.parse(text) as Record<string, QueueMetadata>;
      } catch (err) {
        throw new Error(`${store.#path} is not valid JSON (${(err as Error).message}); restore it or remove it to drop SQS tags and policies`, { cause: err });
      }
      store.#queues = new Map(Object.entries(parsed));
    }
    return store;
  }

  /** The queue's metadata, or a fresh empty record when none was stored for this incarnation. */
  get(queue: string, createdAt: number): QueueMetadata {
    const m = this.#queues.get(queue);
    if (m !== undefined && m.createdAt === createdAt) return m;
    return { createdAt, lastModified: createdAt, tags: {}, attributes: {} };
  }

  /** Stores the queue's metadata durably; resolves once it is on disk. */
  put(queue: string, meta: QueueMetadata): Promise<void> {
    this.#queues.set(queue, meta);
    return this.#flush();
  }

  delete(queue: string): Promise<void> {
    if (!this.#queues.delete(queue)) return Promise.resolve();
    return this.#flush();
  }

  #flush(): Promise<void> {
    const text = JSON.stringify(Object.fromEntries(this.#queues));
    const next = this.#writing.then(async () => {
      const tmp = `${this.#path}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.#path);
    });
    this.#writing = next.catch(() => undefined);
    return next;
  }

  /** Waits for the last write. */
  async close(): Promise<void> {
    await this.#writing;
  }
}
