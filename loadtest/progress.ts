/**
 * Progress on stderr: a bar with the current step and its live detail on a terminal (redrawn at
 * most 10 times a second), or one line per finished step when stderr is not a terminal (CI logs).
 */
export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #label = '';
  #detail = '';
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
    const line = `${this.#bar()} ${this.#label}${this.#detail ? ` — ${this.#detail}` : ''}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
  }

  step(label: string): void {
    this.#label = label;
    this.#detail = '';
    this.#draw(true);
  }

  detail(text: string): void {
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
