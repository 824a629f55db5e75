/**
 * The paper preset against ../shared/ISHEEP.md, number by number: each value is read out of the method's
 * text, so a drift on either side fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { withPreset } from '../src/config/presets.js';
import { PROJECT_ROOT } from '../src/setup/tools.js';
import { BLACKLIST } from '../src/stages/prompt-filters.js';
import { RULES } from '../src/stages/rule-filter.js';

const text = readFileSync(join(PROJECT_ROOT, '..', 'shared', 'ISHEEP.md'), 'utf8').replace(/\s+/g, ' ');
// The paper judged with GPT-4; the preset leaves the judge to the user.
const JUDGE = { baseUrl: 'http://judge:8000/v1', model: 'gpt-4-1106-preview', apiKeyEnv: 'OPENAI_API_KEY' };
const paper = parseConfig(withPreset('paper', { name: 'paper', evaluation: { judge: { endpoint: JUDGE } } }));

/** The first capture of `re` in ISHEEP.md, as a number (commas dropped). */
function read(re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`ISHEEP.md no longer says ${re}`);
  return Number(m[1]!.replace(/,/g, ''));
}

describe('the paper preset matches ISHEEP.md', () => {
  it('samples as the paper does in every generation stage', () => {
    const sampling = { temperature: read(/temperature ([\d.]+), top_p/), topP: read(/top_p ([\d.]+)/), maxNewTokens: read(/up to (\d+) new tokens/) };
    expect(paper.synthesis.sampling).toEqual(sampling);
    expect(paper.response.sampling).toEqual(sampling);
    expect(paper.assessment.sampling.temperature).toBe(read(/One sample at temperature ([\d.]+)/));
  });

  it('synthesizes and filters prompts with the paper numbers', () => {
    expect(paper.synthesis.targetInstructions).toBe(read(/paper: ([\d,]+) pairs per iteration/));
    expect(paper.synthesis.tasksPerPrompt).toBe(read(/numbered list of ~(\d+) new/));
    expect(paper.synthesis.demosPerPrompt).toBe(read(/followed by (\d+) demonstrations/));
    expect(paper.synthesis.minWords).toBe(read(/more than (\d+) and at most/));
    expect(paper.synthesis.maxWords).toBe(read(/at most (\d+) words/));
    expect(paper.synthesis.rougeThreshold).toBe(read(/ROUGE-L F1 > ([\d.]+)/));
    const listed = /handle \(([^)]+)\)/.exec(text)![1]!.split(',').map((w) => w.trim());
    expect(BLACKLIST).toEqual(expect.arrayContaining(listed));
  });

  it('grades and selects with the paper numbers', () => {
    expect(paper.assessment.threshold).toBe(read(/C = (\d+) by default/));
    expect(paper.assessment.level).toBe('both');
    expect(paper.assessment.variant).toBe('combined');
    expect(paper.ruleFilter.rules).toEqual([...RULES]);
  });

  it('trains with the paper recipe', () => {
    const t = paper.training;
    expect(t.policy).toBe('one_base');
    expect(t.loraRank).toBe(read(/LoRA rank (\d+)/));
    expect(t.loraAlpha).toBe(read(/alpha (\d+)/));
    expect(t.loraDropout).toBe(read(/dropout ([\d.]+)/));
    expect(t.learningRate).toBe(read(/lr ([\d.e-]+),/));
    expect(t.warmupSteps).toBe(read(/(\d+) warm-up steps/));
    expect(t.epochs).toBe(read(/(\d+) epochs/));
    expect(t.cutoffLen).toBe(read(/cutoff (\d+) tokens/));
    expect(t.perDeviceBatchSize * t.gradientAccumulationSteps).toBe(read(/effective batch (\d+)/));
    expect(t.maxSamples).toBe(read(/at most ([\d,]+) samples/));
    expect(t.valFraction).toBe(read(/(\d+)% held out/) / 100);
  });

  it('evaluates the four benchmark suites in full with an external judge, which the user must name', () => {
    const suites = paper.evaluation.suites;
    for (const suite of [suites.ifeval, suites.mtBench, suites.alpacaEval, suites.humanEval]) expect(suite).toMatchObject({ enabled: true, limit: null });
    expect(suites.alpacaEval.references).toEqual(['gpt4_1106_preview', 'text_davinci_003']);
    expect(paper.evaluation.judge).toMatchObject({ grader: 'external', endpoint: { baseUrl: JUDGE.baseUrl } });
    expect(() => parseConfig(withPreset('paper', { name: 'paper' }))).toThrow(/evaluation\.judge\.endpoint.*required when evaluation\.judge\.grader is "external"/s);
  });
});
