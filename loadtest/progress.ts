/**
 * Progress on stderr: a bar with the current step and its live detail on a terminal (redrawn at
 * most 10 times a second), or one line per finished step when stderr is not a terminal (CI logs).
 */
export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #label = '';
  #detail: string | (() => string) = '';
  #lastDraw = 0;
  readonly #t0 = performance.now();

  constructor(readonly total: number) {}

  #bar(): string {
    const width = 20;
    const filled = this.total === 0 ? width : Math.round((this.#done / this.total) * width);
    const elapsed = Math.round((performance.now() - this.#t0) / 1000);
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.total} ${elapsed}s`;
  }

  #draw(force = false): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const detail = typeof this.#detail === 'function' ? this.#detail() : this.#detail;
    const line = `${this.#bar()} ${this.#label}${detail ? ` — ${detail}` : ''}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
  }

  step(label: string): void {
    this.#label = label;
    this.#detail = '';
    this.#draw(true);
  }

  /**
   * The live detail of the current step. A function is called only when the line is drawn (at most
   * 10 times a second): callers that report after every confirmed batch (20,000 times in
   * queues-10k) must not format a number each time in the load generator, which shares the cores
   * with the broker it measures.
   */
  detail(text: string | (() => string)): void {
    this.#detail = text;
    this.#draw();
  }

  /** A finished step: a permanent line. */
  done(line: string): void {
    this.#done++;
    this.#write(`${this.#bar()} ${line}`);
  }

  note(line: string): void {
    this.#write(line);
  }

  #write(line: string): void {
    process.stderr.write(this.#tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  finish(): void {
    if (this.#tty) process.stderr.write('\r\x1b[2K');
  }
}
