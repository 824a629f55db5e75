import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/schema.js';
import { presets, withPreset } from '../src/config/presets.js';

describe('the run config', () => {
  it('fills in the paper values for everything a user leaves out', () => {
    const c = parseConfig({ name: 'paper-defaults', model: { base: 'Qwen/Qwen1.5-7B' } });
    expect(c.synthesis).toMatchObject({ targetInstructions: 10_000, demosPerPrompt: 5, tasksPerPrompt: 20, minWords: 3, maxWords: 150, rougeThreshold: 0.7 });
    expect(c.synthesis.sampling).toEqual({ temperature: 1.0, topP: 0.95, maxNewTokens: 1000 });
    expect(c.response.sampling).toEqual({ temperature: 1.0, topP: 0.95, maxNewTokens: 1000 });
    expect(c.assessment).toMatchObject({ level: 'both', variant: 'combined', threshold: 8, grader: 'current' });
    expect(c.assessment.sampling.temperature).toBe(1.0);
    expect(c.training).toMatchObject({
      policy: 'one_base', method: 'lora', loraRank: 8, loraAlpha: 16, loraDropout: 0.05, learningRate: 5e-5, warmupSteps: 20,
      epochs: 2, cutoffLen: 1024, maxSamples: 3000, valFraction: 0.1,
    });
    expect(c.training.perDeviceBatchSize * c.training.gradientAccumulationSteps).toBe(16);
  });

  it('validates every preset (the paper preset once its external judge is named)', () => {
    const judge = { evaluation: { judge: { endpoint: { baseUrl: 'http://judge:8000/v1', model: 'judge' } } } };
    for (const name of Object.keys(presets) as (keyof typeof presets)[]) {
      expect(() => parseConfig(withPreset(name, { name: `preset-${name}`, ...(name === 'paper' ? judge : {}) }))).not.toThrow();
    }
  });

  it('lets a user override one nested field of a preset without losing its siblings', () => {
    const c = parseConfig(withPreset('demo', { name: 'x', synthesis: { targetInstructions: 5 } }));
    expect(c.synthesis.targetInstructions).toBe(5);
    expect(c.synthesis.promptsPerRound).toBe(24);
  });

  it('names every bad field, including unknown ones', () => {
    try {
      parseConfig({ name: 'UPPER', iterations: 1.5, model: { base: '' }, assessment: { threshold: 11, level: 'all' }, extra: 1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const paths = (err as ConfigError).issues.map((i) => i.split(':')[0]);
      expect(paths).toEqual(expect.arrayContaining(['name', 'iterations', 'model.base', 'assessment.threshold', 'assessment.level', '(root)']));
      expect((err as ConfigError).message).toContain('extra');
    }
  });

  it('asks for the endpoint of an external grader, and refuses a key in place of a variable name', () => {
    expect(() => parseConfig({ name: 'x', model: { base: 'm' }, assessment: { grader: 'external' } })).toThrow(/assessment\.endpoint: required/);
    expect(() =>
      parseConfig({ name: 'x', model: { base: 'm' }, assessment: { grader: 'external', endpoint: { baseUrl: 'http://j/v1', model: 'j', apiKeyEnv: 'sk-abc123-secret' } } }),
    ).toThrow(/assessment\.endpoint\.apiKeyEnv/);
    expect(() => parseConfig({ name: 'x', model: { base: 'm' }, assessment: { grader: 'external', endpoint: { baseUrl: 'ftp://j', model: 'j' } } })).toThrow(/baseUrl/);
  });

  it("refuses a judge answer prefix for an external judge, naming the field", () => {
    const endpoint = { baseUrl: 'http://judge:8000/v1', model: 'judge' };
    expect(() => parseConfig(withPreset('demo', { name: 'x', evaluation: { judge: { grader: 'external', endpoint } } }))).toThrow(
      /evaluation\.judge\.answerPrefix: only for a local judge/,
    );
    const c = parseConfig(withPreset('demo', { name: 'x', evaluation: { judge: { grader: 'external', endpoint, answerPrefix: null } } }));
    expect(c.evaluation.judge.answerPrefix).toBeNull();
    expect(parseConfig({ name: 'x', model: { base: 'm' } }).evaluation.judge.answerPrefix).toBeNull(); // FastChat's: none
  });

  it('refuses a config that is not an object at all', () => {
    expect(() => parseConfig('run it')).toThrow(ConfigError);
    expect(() => parseConfig(null)).toThrow(/expected object/);
  });
});
