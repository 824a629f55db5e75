/**
 * The SDK's stderr logger, minus one expected warning: each of our workers serves one kind of task (workflows on
 * isheep, activities on isheep-cpu and isheep-gpu), and the SDK warns at start-up, for every worker, that it has
 * "No activities registered" or "No workflows registered". Everything else passes through unchanged.
 */
import { DefaultLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';

const EXPECTED = /^No (activities|workflows) registered, not polling for (activity|workflow) tasks/;

export class WorkerLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (level === 'WARN' && EXPECTED.test(message)) return;
    super.log(level, message, meta);
  }
}
