import { generateInstructionStream } from './data.js';
import { DedupIndex, rougeL } from '../src/stages/rouge.js';
const N = 10000;
const items = generateInstructionStream(N);
const index = new DedupIndex(); const kept: string[] = [];
const byStart = new Map<string, [number, number]>();
let shown = 0;
for (const { text, variantOf } of items) {
  const d = index.isNearDuplicate(text);
  if (variantOf === null) {
    const k = text.replace(/^(Please|Can you|I need you to|Could you please|Quickly|Now,) /i, '').split(' ').slice(0, 2).join(' ').toLowerCase();
    const e = byStart.get(k) ?? [0, 0]; e[0]++; if (d) e[1]++; byStart.set(k, e);
    if (d && shown < 12 && Math.random() < 0.01) { shown++; let best = ''; let bf = 0; for (const t of kept) { const f = rougeL(t, text).fmeasure; if (f > bf) { bf = f; best = t; } } console.log(bf.toFixed(3), '|', text, '|', best); }
  }
  if (!d) { index.add(text); kept.push(text); }
}
console.log([...byStart].filter(([, v]) => v[0] > 80).sort((a, b) => b[1][1] / b[1][0] - a[1][1] / a[1][0]).map(([k, v]) => `${k}: ${v[1]}/${v[0]}`).join('\n'));
