// Where a process's resident memory sits, from /proc/<pid>/smaps, for the churn soak: the
// parts glibc's malloc holds (what SQLite, the C++ side of Node and its add-ons allocate)
// against the rest (V8's heaps, thread stacks, mapped files). No mallinfo2 from outside the
// process, so its arenas are recognised by their shape (see mallocArena).

/** One mapping of smaps: its address range, permissions, path (empty when anonymous) and resident kB. */
export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rssKiB: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/;

export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = HEADER.exec(line);
    if (head) {
      mappings.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3] as string, path: head[4] ?? '', rssKiB: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    const last = mappings[mappings.length - 1];
    if (rss && last) last.rssKiB = Number(rss[1]);
  }
  return mappings;
}

/**
 * glibc gives every thread past the first an arena of its own (up to 8 per core, or
 * MALLOC_ARENA_MAX): a 64 MiB reservation aligned to 64 MiB, of which the used front is
 * read-write and the rest `---p`. Nothing else Node maps has that shape (V8 takes 256 KiB
 * pages), so a read-write anonymous mapping at a 64 MiB boundary whose reservation ends
 * at the next one is an arena.
 */
const ARENA = 64n << 20n;

function mallocArena(m: Mapping, next: Mapping | undefined): boolean {
  if (m.path !== '' || !m.perms.startsWith('rw') || m.start % ARENA !== 0n) return false;
  const reservedEnd = next && next.start === m.end && next.path === '' && next.perms.startsWith('---') ? next.end : m.end;
  return reservedEnd - m.start === ARENA;
}

export interface NativeMemory {
  /** The main thread's malloc arena (the `[heap]` brk area). */
  mainArenaKiB: number;
  /** Every other thread's arenas (the SQLite writer thread, libuv's pool, V8's platform threads). */
  threadArenasKiB: number;
  threadArenas: number;
  /** Anonymous memory outside the arenas: V8's heaps, large allocations malloc maps alone, stacks. */
  otherAnonKiB: number;
}

export function nativeMemory(mappings: Mapping[]): NativeMemory {
  let mainArenaKiB = 0;
  let threadArenasKiB = 0;
  let threadArenas = 0;
  let otherAnonKiB = 0;
  mappings.forEach((m, i) => {
    if (m.path === '[heap]') mainArenaKiB += m.rssKiB;
    else if (mallocArena(m, mappings[i + 1])) {
      threadArenasKiB += m.rssKiB;
      threadArenas++;
    } else if (m.path === '') otherAnonKiB += m.rssKiB;
  });
  return { mainArenaKiB, threadArenasKiB, threadArenas, otherAnonKiB };
}
