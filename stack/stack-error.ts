/** A set-up failure with the cause and the fix, printed without a stack trace. */
export class StackError extends Error {
  constructor(
    readonly cause_: string,
    readonly fix: string,
    readonly logFile?: string,
  ) {
    super(`${cause_}\n  fix: ${fix}${logFile ? `\n  log: ${logFile}` : ''}`);
    this.name = 'StackError';
  }
}
