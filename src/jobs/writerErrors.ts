/** Failures of the job-state writer, each with a stable code for job runners and the CLI. */
export abstract class JobStateWriteError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller's input is wrong; nothing was read or written. */
export class InvalidJobInputError extends JobStateWriteError {
  readonly code = 'InvalidInput';
}

export class JobAlreadyExistsError extends JobStateWriteError {
  readonly code = 'JobAlreadyExists';
}

export class JobNotFoundError extends JobStateWriteError {
  readonly code = 'JobNotFound';
}

export class IllegalTransitionError extends JobStateWriteError {
  readonly code = 'IllegalTransition';
}

/** The row kept changing under us: every ETag-conditional attempt lost. */
export class ConcurrentUpdateError extends JobStateWriteError {
  readonly code = 'ConcurrentUpdate';
}
