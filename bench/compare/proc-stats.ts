// What a peer costs, read from /proc for its whole process group (nginx's master and workers,
// or the one node process): CPU ticks from /proc/<pid>/stat, RSS from /proc/<pid>/status and
// PSS from /proc/<pid>/smaps_rollup. Linux only; a figure that cannot be read is NaN.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerS = 100;
try { ticksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* the usual 100 */ }

/** The pids whose process group is `group`. */
export function groupPids(group: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === group) pids.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/** CPU seconds (user + system) the group has used so far. */
export function groupCpuSeconds(group: number): number {
  let ticks = 0;
  for (const pid of groupPids(group)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of proc(5); here, after the name, 11 and 12.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone meanwhile */ }
  }
  return ticks / ticksPerS;
}

export interface Memory { rss_kb: number; pss_kb: number }

export function groupMemory(group: number): Memory {
  let rss = 0, pss = 0;
  for (const pid of groupPids(group)) {
    try {
      rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? NaN);
      pss += Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1] ?? NaN);
    } catch { /* gone meanwhile */ }
  }
  return { rss_kb: rss, pss_kb: pss };
}

/** The group's CPU from now until `percent()` is called, 100 = one core. */
export function cpuMeter(group: number): { percent(): number } {
  const cpu0 = groupCpuSeconds(group);
  const t0 = performance.now();
  return { percent: () => (100 * (groupCpuSeconds(group) - cpu0)) / ((performance.now() - t0) / 1000) };
}

/** The load generator's own CPU (all its threads) over a window, 100 = one core. */
export function selfCpuMeter(): { percent(): number } {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  return { percent: () => { const u = process.cpuUsage(u0); return (100 * (u.user + u.system) / 1000) / (performance.now() - t0); } };
}
