# What the bus benchmarks (bus-shards, bus-affinity) read from the kernel
# about the processes they run, and their JSON field reader. Sourced.

cpu_ns() { # pids... → nanoseconds on CPU so far, all threads
  local total=0 pid task
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*/schedstat; do
      total=$((total + $(cut -d' ' -f1 "$task" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}

received_from() { # pid "port port…" → bytes the process's sockets received from those local ports
  ss -tnpi 2>/dev/null | python3 -c '
import re, sys
pid, ports = sys.argv[1], set(sys.argv[2].split())
total, mine = 0, False
for line in sys.stdin:
    if line.startswith("ESTAB"):
        fields = line.split()
        peer = fields[4].rsplit(":", 1)[-1]
        mine = peer in ports and f"pid={pid}," in line
    elif mine:
        found = re.search(r"bytes_received:(\d+)", line)
        total += int(found.group(1)) if found else 0
        mine = False
print(total)' "$1" "$2"
}

json_get() { python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1].split("."): value = value[key]
print(value)' "$1"; }
