import { generateInstructionStream } from './data.js';
import { DedupIndex, rougeL } from '../src/stages/rouge.js';
const N = Number(process.argv[2] ?? 10000);
const items = generateInstructionStream(N);
const t0 = performance.now();
const index = new DedupIndex(); let kept = 0;
const keptFlags: boolean[] = [];
for (const { text } of items) { const d = index.isNearDuplicate(text); keptFlags.push(!d); if (!d) { index.add(text); kept++; } }
console.log('ms', (performance.now()-t0).toFixed(0), 'kept', kept, 'dropShare', (1-kept/N).toFixed(3));
for (const p of [1000,2000,5000,10000]) if (p <= N) console.log(p, (1 - keptFlags.slice(0,p).filter(Boolean).length/p).toFixed(3));
const fresh = items.map((x,i)=>[x,i] as const).filter(([x])=>x.variantOf===null);
const vars = items.map((x,i)=>[x,i] as const).filter(([x])=>x.variantOf!==null);
console.log('fresh', fresh.length, 'dropped', fresh.filter(([,i])=>!keptFlags[i]).length);
console.log('variants', vars.length, 'dropped', vars.filter(([,i])=>!keptFlags[i]).length);
// F1 of variants vs ancestor histogram
const h = new Array(11).fill(0);
for (const [x] of vars) { const f = rougeL(items[x.variantOf!]!.text, x.text).fmeasure; h[Math.min(10, Math.floor(f*10))]++; }
console.log('variant-vs-ancestor F1 deciles', h.join(' '));
const lens = items.map(t => t.text.split(/\s+/).length).sort((a,b)=>a-b);
console.log('words p10/50/90/max', lens[Math.floor(N*.1)], lens[Math.floor(N*.5)], lens[Math.floor(N*.9)], lens[N-1]);
