/** A CLI failure: what went wrong and what to do; `usage` errors exit 2, others 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, fix: string) => new CliError(message, fix, 2);
