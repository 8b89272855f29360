#!/usr/bin/env bash
# Where a running Herald's malloc memory is, by thread: each glibc arena with the threads
# that allocate from it (named by a frame of their stack: main, worker-thread = the SQLite
# writer, v8-platform, uv-pool) and its size, free and in-use bytes from malloc_info(3).
# Free space that stays small while in-use grows is live memory, not fragmentation.
# Needs gdb and glibc's symbols (Debian: apt-get install gdb libc6-dbg); attaching pauses
# the process for about two seconds. Usage: bench/malloc-arenas.sh <pid>
set -euo pipefail
pid=${1:?usage: bench/malloc-arenas.sh <pid>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/arenas.py" <<PY
import gdb
OUT = '$tmp'
PY
cat >> "$tmp/arenas.py" <<'PY'
# Arenas in list order, the order malloc_info numbers them.
order = []
a = gdb.parse_and_eval('&main_arena')
while True:
    order.append(int(a))
    a = a.dereference()['next']
    if int(a) == order[0]:
        break
KINDS = [('worker::Worker::Run', 'worker-thread'), ('PlatformWorkerThread', 'v8-platform'), ('DelayedTaskScheduler', 'v8-delayed'),
         ('node::Start', 'main'), ('inspector', 'inspector')]
threads = {}
for th in gdb.selected_inferior().threads():
    th.switch()
    names, f = [], gdb.newest_frame()
    while f is not None and len(names) < 80:
        names.append(f.name() or '')
        f = f.older()
    kind = next((k for key, k in KINDS if any(key in n for n in names)), 'uv-pool' if 'worker' in names else 'other')
    threads.setdefault(int(gdb.parse_and_eval('(unsigned long)thread_arena')), []).append('%d:%s' % (th.ptid[1], kind))
with open(OUT + '/threads.txt', 'w') as out:
    for nr, addr in enumerate(order):
        out.write('%d %s\n' % (nr, ' '.join(threads.get(addr, []))))
f = int(gdb.parse_and_eval('((void*(*)(const char*, const char*))fopen)("%s/info.xml", "w")' % OUT))
gdb.parse_and_eval('((int(*)(int, void*))malloc_info)(0, (void*)%d)' % f)
gdb.parse_and_eval('((int(*)(void*))fclose)((void*)%d)' % f)
PY
gdb -p "$pid" -batch -nx -x "$tmp/arenas.py" >/dev/null 2>&1
python3 - "$tmp" <<'PY'
import sys, xml.etree.ElementTree as ET
tmp = sys.argv[1]
threads = {}
for line in open(tmp + '/threads.txt').read().splitlines():
    nr, _, names = line.partition(' ')
    threads[nr] = names
mib = lambda b: b / 2**20
for heap in ET.parse(tmp + '/info.xml').getroot().findall('heap'):
    system = next((int(s.get('size')) for s in heap.findall('system') if s.get('type') == 'current'), 0)
    free = sum(int(t.get('size')) for t in heap.findall('total') if t.get('type') in ('fast', 'rest'))
    print(f"arena {heap.get('nr')}: {mib(system):5.1f} MiB, free {mib(free):4.1f}, in use {mib(system - free):5.1f}  {threads.get(heap.get('nr'), '')}")
PY
