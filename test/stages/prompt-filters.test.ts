import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BLACKLIST,
  containsUrl,
  filterInstructions,
  hasBadStart,
  staticFilterReason,
  wordCount,
} from '../../src/stages/prompt-filters.js';
import { DedupIndex } from '../../src/stages/rouge.js';
import { isPlaceholder } from '../../src/stages/rule-filter.js';
import type { Task } from '../../src/stages/types.js';

const reasonOf = (instruction: string): string | null => staticFilterReason(instruction);

describe('instruction filters', () => {
  it('drops instructions of three words or fewer as too_short and keeps four words', () => {
    expect(reasonOf('Write a poem.')).toBe('too_short');
    expect(reasonOf('Write   a\npoem.')).toBe('too_short');
    expect(reasonOf('Write a short poem.')).toBeNull();
  });

  it('drops instructions of more than 150 words as too_long and keeps exactly 150', () => {
    expect(reasonOf(`Explain ${'word '.repeat(149)}`)).toBeNull();
    expect(reasonOf(`Explain ${'word '.repeat(150)}`)).toBe('too_long');
    expect(wordCount(`Explain ${'word '.repeat(149)}`)).toBe(150);
  });

  it('drops instructions naming things a text model cannot handle, as whole words in any case', () => {
    expect(reasonOf('Describe the IMAGE shown above in detail.')).toBe('blacklisted');
    expect(reasonOf('Draw a cat using only ASCII characters.')).toBe('blacklisted');
    expect(reasonOf('Please go to the store and buy milk.')).toBe('blacklisted');
    expect(reasonOf('Convert this flowchart into steps please.')).toBe('blacklisted');
    expect(reasonOf('Summarize the attached files for me.')).toBe('blacklisted');
    expect(reasonOf('Label the diagrams with their parts.')).toBe('blacklisted');
  });

  it('does not blacklist words that merely contain a blacklisted word', () => {
    expect(reasonOf('Explain what a profile of a customer contains.')).toBeNull(); // "file" in "profile"
    expect(reasonOf('Describe the imagery in this poem briefly.')).toBeNull(); // "image" in "imagery"
    expect(reasonOf('Explain how a bitmap format stores colors.')).toBeNull(); // "map" in "bitmap"
    expect(reasonOf('Write a story where the hero must go home.')).toBeNull();
  });

  it('lists the paper blacklist with the plural diagrams', () => {
    expect(BLACKLIST).toEqual(expect.arrayContaining(['image', 'graph', 'picture', 'file', 'map', 'draw', 'plot', 'go to', 'video', 'audio', 'music', 'flowchart', 'diagram', 'diagrams']));
  });

  it('drops instructions that start with punctuation or a non-ASCII character', () => {
    expect(reasonOf('- Write a poem about dogs.')).toBe('bad_start');
    expect(reasonOf('"Write a poem about dogs."')).toBe('bad_start');
    expect(reasonOf('¿Cómo se dice hello en inglés?')).toBe('bad_start');
    expect(reasonOf('Écris un poème sur la mer.')).toBe('bad_start');
    expect(reasonOf('写一首关于大海的诗 please write it')).toBe('bad_start');
    expect(hasBadStart('3 ways to save money, list them.')).toBe(false);
  });

  it('drops instructions containing a URL', () => {
    expect(reasonOf('Summarize the article at https://example.com/news today.')).toBe('url');
    expect(reasonOf('Review the website www.example.org and list issues.')).toBe('url');
    expect(containsUrl('Explain what HTTP status 404 means.')).toBe(false);
  });

  it('drops empty instructions', () => {
    expect(reasonOf('   ')).toBe('empty_instruction');
  });
});

describe('filterInstructions', () => {
  it('drops near-duplicates of the seed pool (ROUGE-L F1 > 0.7) and keeps different tasks', () => {
    const index = new DedupIndex(['Write a short poem about the ocean at night.']);
    const result = filterInstructions(
      [
        { instruction: 'Write a short poem about the ocean at dawn.', input: '' },
        { instruction: 'Explain how vaccines train the immune system.', input: '' },
      ],
      index,
    );
    expect(result.accepted.map((c) => c.instruction)).toEqual(['Explain how vaccines train the immune system.']);
    expect(result.dropped.near_duplicate).toBe(1);
  });

  it('compares each candidate with those accepted earlier in the same iteration, across calls', () => {
    const index = new DedupIndex();
    const first = filterInstructions([{ instruction: 'List five ways to save energy at home.', input: '' }], index);
    const second = filterInstructions([{ instruction: 'List five ways to save energy in the home.', input: '' }], index);
    expect(first.accepted).toHaveLength(1);
    expect(second.accepted).toHaveLength(0);
    expect(second.dropped.near_duplicate).toBe(1);
    expect(index.size).toBe(1);
  });

  it('counts an exact repeat as exact_duplicate and each candidate under its first failing filter', () => {
    const index = new DedupIndex(['Give three tips for better sleep.']);
    const result = filterInstructions(
      [
        { instruction: 'give three tips for  better sleep.', input: '' },
        { instruction: 'Hi there', input: '' },
        { instruction: '', input: '' },
        { instruction: 'Plot the data from the file at http://x.io in a graph.', input: '' },
        { instruction: 'Classify each animal as a mammal or a bird.', input: 'bat, owl' },
      ],
      index,
    );
    expect(result.dropped).toEqual({
      empty_instruction: 1,
      exact_duplicate: 1,
      too_short: 1,
      too_long: 0,
      bad_start: 0,
      url: 1,
      blacklisted: 0,
      near_duplicate: 0,
    });
    expect(result.accepted).toEqual([{ instruction: 'Classify each animal as a mammal or a bird.', input: 'bat, owl' }]);
  });

  it('follows the thresholds and word list passed in the config', () => {
    const index = new DedupIndex(['Write a short poem about the ocean at night.']);
    const result = filterInstructions(
      [
        { instruction: 'Write a short poem about the ocean at dawn.', input: '' },
        { instruction: 'Describe the image of a cat.', input: '' },
        { instruction: 'Write a recipe for pancakes.', input: '' },
      ],
      index,
      { nearDuplicateThreshold: 0.95, blacklist: ['recipe'], minWordsExclusive: 2 },
    );
    expect(result.accepted.map((c) => c.instruction)).toEqual([
      'Write a short poem about the ocean at dawn.',
      'Describe the image of a cat.',
    ]);
    expect(result.dropped.blacklisted).toBe(1);
  });
});

describe('seed tasks', () => {
  const seeds: Task[] = readFileSync(new URL('../../data/seed_tasks.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Task);

  it('holds 30 tasks with ids seed-01 … seed-30, about a third with an input', () => {
    expect(seeds.map((s) => s.id)).toEqual(Array.from({ length: 30 }, (_, i) => `seed-${String(i + 1).padStart(2, '0')}`));
    const withInput = seeds.filter((s) => s.input !== '').length;
    expect(withInput).toBeGreaterThanOrEqual(8);
    expect(withInput).toBeLessThanOrEqual(12);
  });

  it('pass every prompt filter, including near-duplicates among themselves', () => {
    const result = filterInstructions(seeds, new DedupIndex());
    expect(result.dropped).toEqual({
      empty_instruction: 0,
      exact_duplicate: 0,
      too_short: 0,
      too_long: 0,
      bad_start: 0,
      url: 0,
      blacklisted: 0,
      near_duplicate: 0,
    });
    expect(result.accepted).toHaveLength(30);
  });

  it('have no placeholder instruction or input', () => {
    for (const seed of seeds) {
      expect(isPlaceholder(seed.instruction), seed.id).toBe(false);
      expect(isPlaceholder(seed.input), seed.id).toBe(false);
    }
  });
});
