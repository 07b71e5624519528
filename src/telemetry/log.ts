import type { SummaryFields } from './summary';

/**
 * The logs the domain writes to. Built at the edges (the HTTP pipeline for a
 * request, the queue functions for a runner), so jobs and items never know
 * which host or invocation they run in.
 */

/** Plain lines; each carries the request's correlation ids or the job's ids. */
export interface LineLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A request's log. */
export interface RequestLog extends LineLog {
  /** Adds fields to this request's summary line, e.g. the job status it answered. */
  annotate(fields: SummaryFields): void;
  /** One JobTransition summary line for a job state change this request wrote. */
  transition(fields: SummaryFields): void;
}

/** A job runner's log: lines for the handler and the runner, and the runner's JobTransition summaries. */
export interface RunnerLog extends LineLog {
  transition(fields: SummaryFields): void;
}
