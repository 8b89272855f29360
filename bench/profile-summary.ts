// Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints the functions with the most
// self time and the most inclusive time, as shares of all samples:
//   node dist/bench/profile-summary.js herald.cpuprofile [top=25]
// Inclusive time counts a sample once per function even when the function recurses, so
// the shares stay within 100 %.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface FunctionTime { name: string; selfUs: number; totalUs: number }

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  // Keep the part of the path a reader recognises: the package or the project file.
  const url = frame.url.replace(/^file:\/\//, '');
  const nm = url.lastIndexOf('node_modules/');
  const where = nm >= 0 ? url.slice(nm + 'node_modules/'.length) : url.replace(/^.*\/dist\//, '');
  return `${name} ${where}:${frame.lineNumber + 1}`;
}

export function summarise(profile: CpuProfile): { totalUs: number; functions: FunctionTime[] } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const times = new Map<string, FunctionTime>();
  const entry = (name: string) => {
    let t = times.get(name);
    if (!t) times.set(name, (t = { name, selfUs: 0, totalUs: 0 }));
    return t;
  };
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time since the previous one; the first is attributed as-is.
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    totalUs += dt;
    const leaf = byId.get(id);
    if (!leaf) return;
    entry(label(leaf.callFrame)).selfUs += dt;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const name = label(node.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      entry(name).totalUs += dt;
    }
  });
  return { totalUs, functions: [...times.values()] };
}

// Frames that are everywhere in the stack (the root, the event loop) say nothing about cost.
const NOISE = /^\((root|program|idle)\)/;

export function formatSummary(profile: CpuProfile, top: number): string {
  const { totalUs, functions } = summarise(profile);
  const idle = functions.find((f) => f.name.startsWith('(idle)'))?.selfUs ?? 0;
  const busy = totalUs - idle;
  const pct = (us: number) => `${((us / Math.max(1, busy)) * 100).toFixed(1).padStart(5)} %`;
  const lines = [
    `profile: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((busy / Math.max(1, totalUs)) * 100).toFixed(0)} %); shares below are of busy time`,
    '',
    `top ${top} by self time:`,
    ...functions.filter((f) => !f.name.startsWith('(idle)')).sort((a, b) => b.selfUs - a.selfUs).slice(0, top).map((f) => `  ${pct(f.selfUs)}  ${f.name}`),
    '',
    `top ${top} by inclusive time:`,
    ...functions.filter((f) => !NOISE.test(f.name)).sort((a, b) => b.totalUs - a.totalUs).slice(0, top).map((f) => `  ${pct(f.totalUs)}  ${f.name}`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatSummary(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(top ?? 25)));
}
