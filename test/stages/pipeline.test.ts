import { describe, expect, it } from 'vitest';
import * as stages from '../../src/stages/index.js';

describe('the stages together', () => {
  it('turns a messy small-model continuation into filtered, answerable tasks', () => {
    const seeds: stages.Task[] = [
      { id: 'seed-01', instruction: 'Write a haiku about the first snow of winter.', input: '' },
      { id: 'seed-02', instruction: 'Classify the sentiment of this review as positive or negative.', input: 'Great value.' },
    ];
    const demos = stages.pickDemos(seeds, 2, stages.createRng(stages.seedFromString('run/iter-1/call-0')));
    const prompt = stages.buildSynthesisPrompt(demos);
    expect(prompt.endsWith('3. Instruction:')).toBe(true);

    const continuation = [
      ' Write a haiku about the first snow of winter!',
      '3. Input: <noinput>',
      '',
      '4.Instruction: Explain the difference between a virus and a bacterium.',
      '4. Input: None',
      'Output: Viruses are smaller...',
      '5. Instruction: Describe the picture below.',
      '5. Input: <image>',
      'Instruction: Hi',
      '6. Instruction: Summarize the paragraph in one sentence.',
      '6. Input: The meeting was moved to Friday because the manager is travelling on Thursday.',
      '7. Instruction: Give an example of a metaphor and explain',
    ].join('\n');
    const parsed = stages.parseSynthesized(continuation, stages.firstOpenNumber(demos));
    expect(parsed.droppedLast).toBe(true);
    expect(parsed.tasks).toHaveLength(5);

    const index = new stages.DedupIndex(seeds.map((s) => s.instruction));
    const { accepted, dropped } = stages.filterInstructions(parsed.tasks, index);
    expect(accepted.map((t) => t.instruction)).toEqual([
      'Explain the difference between a virus and a bacterium.',
      'Summarize the paragraph in one sentence.',
    ]);
    expect(dropped).toMatchObject({ exact_duplicate: 0, near_duplicate: 1, blacklisted: 1, too_short: 1 });

    const request = stages.buildResponseRequest(accepted[1] as stages.TaskText, false);
    expect(request).toEqual({
      kind: 'completion',
      prompt:
        'Summarize the paragraph in one sentence.\nThe meeting was moved to Friday because the manager is travelling on Thursday.',
    });
  });
});
