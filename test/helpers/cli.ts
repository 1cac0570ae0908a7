/** Runs the built `ferry` CLI (dist/) as a child process and collects its output and exit code. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FERRY_CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runFerry(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.FERRY_URL;
    delete env.NODE_OPTIONS; // tap's loader hooks are not needed for compiled JS
    const child = spawn(process.execPath, [FERRY_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
