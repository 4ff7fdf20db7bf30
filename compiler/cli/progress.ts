// Progress of a long command on a terminal, drawn by cli-progress: one line on
// stderr, redrawn in place, with a bar for counted work (tokens generated,
// layouts tried, CoE graphs compiled, sweep points) and the stage's name for the
// rest. Nothing at all is written unless stderr is a terminal and the command
// prints for a person (no --quiet, no --json): a script reading stderr sees only
// the summary line and errors. The line is erased before the command prints its
// result or its error.
//
// Ctrl-C: the bar neither hides the cursor nor turns off line wrapping, so an
// interrupted command leaves the terminal as it found it, and it installs no
// SIGINT handler (one would hold Ctrl-C back until a synchronous compile step
// returned to the event loop).

import type { GenericFormatter, Options, Params, SingleBar } from "cli-progress";
import type { OnStage, StageStep } from "../stage.js";

/** What the bar writes to: process.stderr, or a stand-in with the same members in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(chunk: string): boolean;
}

export interface ProgressOptions {
  /** --quiet: no progress. */
  readonly quiet?: boolean | undefined;
  /** --json (a flag, or a file name): no progress. */
  readonly json?: boolean | string | undefined;
  /** Default process.stderr. */
  readonly stream?: ProgressStream;
}

/** Handed to a command's body; `stage` fits the library's onStage callbacks. */
export interface Progress {
  /**
   * A stage starts. With `step` it is one of a counted series and the bar shows
   * `step.done` of `step.total`; without, while a series is unfinished, it is a
   * part of the current item (a graph's prefill plan), otherwise a stage of its own.
   */
  readonly stage: OnStage;
}

const SILENT: Progress = { stage: () => {} };

/** What the line shows: the series and its item's name, and the stage within it. Every key is always set: cli-progress merges each update into the last. */
interface Line {
  step: StageStep | undefined;
  /** The counted item, or the stage when nothing is counted. */
  head: string;
  /** A stage within the counted item. */
  part: string | undefined;
  /** When the series began, for the time left. */
  stepStarted: number;
}

const seconds = (ms: number) => `${(ms / 1e3).toFixed(1)} s`;

function lineFormatter(command: string, bar: (progress: number, options: Options) => string): GenericFormatter {
  return (options: Options, params: Params, line: Line) => {
    const now = Date.now();
    const name = line.part ? `${line.head}${line.head ? ": " : ""}${line.part}` : line.head;
    let text: string;
    if (line.step) {
      const { done, total, unit } = line.step;
      const leftMs = done > 0 && done < total ? ((now - line.stepStarted) / done) * (total - done) : 0;
      const left = leftMs >= 1e3 ? `, about ${Math.ceil(leftMs / 1e3)} s left` : "";
      text = [`${command} ${bar(params.progress, options)} ${done}/${total} ${unit}`, `${seconds(now - params.startTime)}${left}`, name].filter(Boolean).join(" | ");
    } else {
      text = [command, seconds(now - params.startTime), name].filter(Boolean).join(" | ");
    }
    // One character short of the width, so the line never wraps and `\r` always returns to its start.
    return text.length < params.maxWidth ? text : text.slice(0, Math.max(0, params.maxWidth - 1));
  };
}

/** The live line: started on the first stage, stopped (and erased) once. */
class ProgressLine implements Progress {
  private bar: SingleBar | undefined;
  private line: Line = { step: undefined, head: "", part: undefined, stepStarted: 0 };
  private stopped = false;

  constructor(private readonly make: () => SingleBar) {}

  readonly stage: OnStage = (label, step) => {
    if (this.stopped) return;
    const now = Date.now();
    const current = this.line.step;
    if (step) {
      const fresh = !current || current.unit !== step.unit || current.total !== step.total || step.done < current.done;
      this.line = { step, head: label.trim(), part: undefined, stepStarted: fresh ? now : this.line.stepStarted };
    } else if (current && current.done < current.total) {
      this.line = { ...this.line, part: label.trim() };
    } else {
      this.line = { step: undefined, head: label.trim(), part: undefined, stepStarted: now };
    }
    const value = this.line.step?.done ?? 0, total = this.line.step?.total ?? 1;
    if (!this.bar) {
      this.bar = this.make();
      this.bar.start(total, value, this.line);
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, this.line);
    }
    // Drawn now: a compile step is synchronous, and the bar's own timer would not fire until it ends.
    this.bar.render();
  };

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }
}

/**
 * Run a command's body with progress on stderr when it is a terminal and neither
 * --quiet nor --json is given; the line is erased when the body returns or throws,
 * before the command prints its result or the error.
 */
export async function withProgress<T>(command: string, options: ProgressOptions, body: (progress: Progress) => T | Promise<T>): Promise<T> {
  const stream = options.stream ?? process.stderr;
  if (options.quiet || options.json || stream.isTTY !== true) return body(SILENT);
  // Loaded only to draw: piped runs never pay for it.
  const { default: cliProgress } = await import("cli-progress");
  const line = new ProgressLine(() => new cliProgress.SingleBar({
    stream: stream as NodeJS.WritableStream, format: lineFormatter(command, cliProgress.Format.BarFormat),
    barsize: 20, clearOnComplete: true, hideCursor: false, linewrap: true, gracefulExit: false,
  }, cliProgress.Presets.shades_classic));
  try {
    return await body(line);
  } finally {
    line.stop();
  }
}
