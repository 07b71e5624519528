/**
 * Failures of the job-state writer, each with a stable `errorCode` for job
 * runners and the CLI (the same property name as the app's FabricError).
 */
export abstract class JobStateWriteError extends Error {
  abstract readonly errorCode: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** @deprecated The earlier name of `errorCode`, kept for job runners written against it. */
  get code(): string {
    return this.errorCode;
  }
}

/** The caller's input is wrong; nothing was read or written. */
export class InvalidJobInputError extends JobStateWriteError {
  readonly errorCode = 'InvalidInput';
}

export class JobAlreadyExistsError extends JobStateWriteError {
  readonly errorCode = 'JobAlreadyExists';
}

export class JobNotFoundError extends JobStateWriteError {
  readonly errorCode = 'JobNotFound';
}

export class IllegalTransitionError extends JobStateWriteError {
  readonly errorCode = 'IllegalTransition';
}

/** The row kept changing under us: every ETag-conditional attempt lost. */
export class ConcurrentUpdateError extends JobStateWriteError {
  readonly errorCode = 'ConcurrentUpdate';
}
