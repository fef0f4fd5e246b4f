import { spawn, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing output; optionally tees it to a log file. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { logFile?: string; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      log?.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      log?.write(chunk);
    });
    child.on('error', (err) => {
      log?.end();
      reject(err);
    });
    child.on('close', (code) => {
      log?.end();
      resolve({ code: code ?? 1, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
