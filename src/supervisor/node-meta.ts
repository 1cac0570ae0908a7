/**
 * The data directory's own description, `ferry-node.json`: the shard count is fixed when the
 * directory is created, because every queue lives in one shard's RocksDB directory and a different
 * count would leave queues behind. A later start with another --shards keeps the stored count.
 */
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface NodeMeta {
  format: 1;
  shards: number;
  createdAt: string;
}

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly code = 'InvalidDataDir';
}

export async function openDataDir(dataDir: string, shards: number): Promise<NodeMeta> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'ferry-node.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const meta = JSON.parse(text) as Partial<NodeMeta>;
    if (meta.format !== 1 || !Number.isInteger(meta.shards) || (meta.shards ?? 0) < 1) {
      throw new DataDirError(`${file} is not a Ferry data directory description`);
    }
    return meta as NodeMeta;
  }
  const meta: NodeMeta = { format: 1, shards, createdAt: new Date().toISOString() };
  await writeFile(`${file}.tmp`, JSON.stringify(meta, null, 2));
  await rename(`${file}.tmp`, file);
  return meta;
}
