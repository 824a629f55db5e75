/**
 * The worker process's Temporal Runtime: our logger, and with a metrics port the SDK's Prometheus exporter, which
 * serves both the SDK's own metrics (temporal_*: task slots, poll and task latencies, activity and workflow
 * outcomes, request counts) and ours (isheep_*, src/activities/metrics.ts, recorded through the same meter) at
 * http://HOST:PORT/metrics. One port, one exporter: nothing of ours runs an HTTP server.
 */
import type { MetricMeter } from '@temporalio/common';
import { Runtime, type ActivityInterceptorsFactory, type LogLevel, type TelemetryOptions } from '@temporalio/worker';
import { HISTOGRAM_BUCKETS, recordJudgments } from '../activities/metrics.js';
import type { AlpacaEvalSummary } from '../activities/alpaca-eval.js';
import type { MtBenchScores } from '../activities/evaluation.js';
import { WorkerLogger } from './logger.js';

export interface MetricsOptions {
  port: number;
  /** The address to listen on (default 0.0.0.0: every interface, so a Prometheus in a container can scrape it). */
  host?: string;
}

/** The Runtime's metrics options: the Prometheus exporter at host:port with our histograms' buckets. */
export function metricsTelemetry(opts: MetricsOptions): NonNullable<TelemetryOptions['metrics']> {
  const host = opts.host ?? '0.0.0.0';
  return {
    prometheus: {
      bindAddress: `${host.includes(':') ? `[${host}]` : host}:${opts.port}`,
      histogramBucketOverrides: HISTOGRAM_BUCKETS,
    },
  };
}

/**
 * Installs the process's Runtime (once, before any worker or native connection exists): the logger, and the
 * Prometheus exporter when `metrics` is given. A port that is taken fails here, naming it.
 */
export function installRuntime(opts: { logLevel?: LogLevel; metrics?: MetricsOptions | null } = {}): void {
  const logger = new WorkerLogger(opts.logLevel ?? 'WARN');
  if (!opts.metrics) {
    Runtime.install({ logger });
    return;
  }
  const metrics = metricsTelemetry(opts.metrics);
  try {
    Runtime.install({ logger, telemetryOptions: { metrics } });
  } catch (err) {
    const where = 'prometheus' in metrics ? metrics.prometheus.bindAddress : String(opts.metrics.port);
    throw new Error(`cannot serve metrics on ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Tags every metric a model slot's activities record with the slot (its index and devices). */
export function slotMetricTags(slot: number, devices: string | null): ActivityInterceptorsFactory {
  return () => ({
    outbound: {
      getMetricTags: (tags, next) => next({ ...tags, slot: String(slot), devices: devices ?? 'cpu' }),
    },
  });
}

/**
 * Judgments of the evaluation judges (MT-Bench ratings, AlpacaEval verdicts), read off the scoring activities'
 * results as they complete: how many there were and how many gave no score.
 */
export const judgmentMetrics: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const result = await next(input);
      observeJudgments(ctx.info.activityType, result, ctx.metricMeter);
      return result;
    },
  },
});

function observeJudgments(activityType: string, result: unknown, meter: MetricMeter): void {
  if (typeof result !== 'object' || result === null) return;
  if (activityType === 'scoreMtBench') {
    const r = result as MtBenchScores;
    recordJudgments('eval_mtbench', r.total, r.unparsable, meter);
  } else if (activityType === 'scoreAlpacaEval') {
    const r = result as AlpacaEvalSummary;
    for (const c of r.comparisons ?? []) {
      // Each item is judged in both orders, except where both outputs are the same text (no judge asked).
      recordJudgments('eval_alpacaeval', 2 * (r.items - c.identical), c.unparsable, meter);
    }
  }
}
