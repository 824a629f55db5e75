/**
 * One I-SHEEP iteration t (ISHEEP.md "The loop"), as a child workflow so each history stays small:
 *   synthesize prompts with M_{t-1} → answer them → rule filter → self-assess twice → keep scores > C
 *   → fine-tune (policy) → evaluate M_t.
 * Every generation stage is split into shards that run side by side on all model slots.
 * Deterministic: every choice is a pure function of the input; all work happens in activities.
 */
import { condition, patched, setHandler } from '@temporalio/workflow';
import type { ArtifactRef, ModelRef } from '../artifacts/store.js';
import type { SynthesisCounts } from '../activities/data.js';
import { activitiesFor } from './activities.js';
import { evaluateModel } from './evaluate.js';
import { shardedGenerator } from './generation.js';
import { EVAL_SUITES_PATCH } from './patches.js';
import { iterationProgressQuery, pauseSignal, resumeSignal } from './messages.js';
import type { IterationCard, IterationInput, IterationProgress, IterationResult } from './types.js';

export async function iSheepIteration(input: IterationInput): Promise<IterationResult> {
  const { config, run, iteration: t, base, current, seeds } = input;
  const activities = activitiesFor(config.engine);
  const { data, modelJobs } = activities;
  const dir = `${run}/iter-${t}`;
  const card: IterationCard = {
    iteration: t,
    model: current.label,
    synthesis: { rounds: 0, target: config.synthesis.targetInstructions, calls: 0, parsed: 0, droppedLast: 0, unparsedLines: 0, dropped: {}, accepted: 0 },
    generation: [],
  };
  const progress: IterationProgress = { iteration: t, stage: 'synthesizing', paused: input.paused ?? false, shards: { done: 0, total: 0 }, card };
  setHandler(iterationProgressQuery, () => progress);
  setHandler(pauseSignal, () => void (progress.paused = true));
  setHandler(resumeSignal, () => void (progress.paused = false));
  /** A paused run finishes the jobs in flight and starts no new one until resumed. */
  const unpaused = () => condition(() => !progress.paused);

  /** Fine-tuned models are prompted through their chat template; a base M_0 with raw text (ISHEEP.md step 3). */
  const usesChat = (m: ModelRef) => m.uri !== base.uri || config.model.baseChatTemplate;
  const seedFor = (stageNo: number, round = 0) => config.seed * 7919 + t * 1009 + stageNo * 101 + round;

  /** One generation stage: shards fanned out over all slots, then joined in order. */
  const generate = shardedGenerator({ config, activities, unpaused, shards: progress.shards, generation: card.generation, label: `iteration ${t}` });

  // 1–2. Prompt synthesis and prompt filters, round after round until the target count is reached.
  let accepted: ArtifactRef | null = null;
  const syn = config.synthesis;
  for (let round = 0; round < syn.maxRounds && (accepted?.rows ?? 0) < syn.targetInstructions; round++) {
    const requests = await data.buildSynthesisRequests({
      run, iteration: t, round, seeds, count: syn.promptsPerRound, demosPerPrompt: syn.demosPerPrompt, tasksPerPrompt: syn.tasksPerPrompt, seed: config.seed,
    });
    const raw = await generate(`synthesis round ${round}`, current, requests, `${dir}/synthesis/round-${round}.raw.jsonl`, syn.sampling, seedFor(1, round));
    const result: Awaited<ReturnType<typeof data.acceptInstructions>> = await data.acceptInstructions({
      run, iteration: t, round, seeds, accepted, raw,
      firstNumber: Math.min(syn.demosPerPrompt, seeds.rows) + 1,
      limit: syn.targetInstructions,
      filters: { minWords: syn.minWords, maxWords: syn.maxWords, rougeThreshold: syn.rougeThreshold },
    });
    accepted = result.accepted;
    addCounts(card, result.counts);
    card.synthesis.rounds = round + 1;
  }
  const finish = async (model: ModelRef, kept: ArtifactRef | null): Promise<IterationResult> => {
    progress.stage = 'done';
    await data.writeDocument({ uri: `${dir}/card`, document: card });
    return { model, kept, card };
  };
  if (!accepted || accepted.rows === 0) {
    card.training = { skipped: true, reason: 'no instruction survived the prompt filters' };
    return finish(current, null);
  }

  // 3–4. Answers from M_{t-1}, then the rule filter.
  progress.stage = 'responding';
  const responseRequests = await data.buildResponseRequests({ run, iteration: t, tasks: accepted, chat: usesChat(current) });
  const responses = await generate('responses', current, responseRequests, `${dir}/responses.raw.jsonl`, config.response.sampling, seedFor(2));
  progress.stage = 'filtering';
  const filtered = await data.filterResponses({ run, iteration: t, tasks: accepted, responses, rules: config.ruleFilter.rules });
  card.responses = filtered.counts;

  // 5. Self-assessment: two independent passes, run side by side when there are slots for both.
  progress.stage = 'assessing';
  const grader = config.assessment.grader === 'base' ? base : current;
  const external = config.assessment.grader === 'external' ? config.assessment.endpoint : undefined;
  const level = config.assessment.level;
  const pass = async (kind: 'quality' | 'following', stageNo: number) => {
    if (level !== 'both' && level !== kind) return null;
    const requests = await data.buildAssessmentRequests({
      run, iteration: t, pairs: filtered.pairs, kind, variant: config.assessment.variant, chat: external !== undefined || usesChat(grader),
    });
    const output = `${dir}/assessment/${kind}.raw.jsonl`;
    return generate(`assessment ${kind}`, grader, requests, output, config.assessment.sampling, seedFor(stageNo), external);
  };
  const [quality, following] = filtered.pairs.rows > 0 ? await Promise.all([pass('quality', 3), pass('following', 4)]) : [null, null];

  // 6. Keep pairs whose scores beat the threshold C.
  progress.stage = 'selecting';
  const selected = await data.selectPairs({
    run, iteration: t, pairs: filtered.pairs, quality, following, level, threshold: config.assessment.threshold,
  });
  card.assessment = { ...selected.counts, histograms: selected.histograms, keptLengths: selected.lengths };

  // 7. Training: M_t = SFT(M_0 or M_{t-1}, this iteration's pairs or all of them).
  const policy = config.training.policy;
  if (selected.kept.rows < config.training.minPairs) {
    card.training = { skipped: true, reason: `${selected.kept.rows} pairs kept, fewer than training.minPairs=${config.training.minPairs}` };
    return finish(current, selected.kept);
  }
  await unpaused();
  progress.stage = 'training';
  const trainData =
    policy === 'total_base' && input.earlierKept.length > 0
      ? await data.concatJsonl({ parts: [...input.earlierKept, selected.kept], output: `${dir}/train-data.jsonl` })
      : selected.kept;
  const trained = await activities.labelledModelJobs(`training · iteration ${t}`).train({
    baseModel: policy === 'one_last' ? current : base,
    data: trainData,
    output: `${dir}/model`,
    label: `${config.name} iteration ${t}`,
    device: config.model.device,
    seed: config.seed + t,
    training: config.training,
    saveSteps: config.engine.saveSteps,
  });
  card.training = {
    skipped: false,
    trainLoss: trained.trainLoss,
    evalLoss: trained.evalLoss,
    steps: trained.steps,
    trainSamples: trained.trainSamples,
    valSamples: trained.valSamples,
    seconds: trained.seconds,
  };

  // 8. Evaluation of M_t.
  if (config.evaluation.enabled) {
    progress.stage = 'evaluating';
    const label = `iter-${t}`;
    // Iterations started before the suites existed replay with the 24-prompt smoke set.
    if (patched(EVAL_SUITES_PATCH)) {
      const ctx = { config, run, dataDir: input.evalDataDir ?? null, activities, generate, seed: seedFor(5), base, unpaused };
      card.suites = await evaluateModel(ctx, label, trained.model, usesChat(trained.model));
    } else {
      const requests = await data.buildEvalRequests({ run, label, chat: usesChat(trained.model) });
      const out = await generate('evaluation', trained.model, requests, `${run}/eval/${label}.raw.jsonl`, config.evaluation.sampling, seedFor(5));
      card.evaluation = await data.scoreEvaluation({ run, label, responses: out });
    }
  }
  return finish(trained.model, selected.kept);
}

function addCounts(card: IterationCard, c: SynthesisCounts) {
  const s = card.synthesis;
  s.calls += c.calls;
  s.parsed += c.parsed;
  s.droppedLast += c.droppedLast;
  s.unparsedLines += c.unparsedLines;
  s.accepted += c.accepted;
  for (const [reason, n] of Object.entries(c.dropped)) s.dropped[reason] = (s.dropped[reason] ?? 0) + n;
}
