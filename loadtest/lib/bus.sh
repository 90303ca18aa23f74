# What the bus benchmarks (bus-shards, bus-affinity, bus-failover) read from the kernel
# about the processes they run, their JSON field reader, and the account
# and room each run votes in. Sourced.

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

bench_user() { # api-url name → the token of a new account
  curl -fsS -H 'content-type: application/json' "$1/auth/register" \
    -d "{\"username\":\"$2\",\"email\":\"$2@example.com\",\"password\":\"password123\",\"password_confirmation\":\"password123\"}" |
    json_get data.token
}

bench_room() { # api-url token name → "room:track": a new room with one track, paused (votes raise events only)
  local room track
  room=$(curl -fsS -H "authorization: Bearer $2" -H 'content-type: application/json' "$1/rooms" -d "{\"name\":\"$3\"}" |
    json_get data.id)
  track=$(curl -fsS -H "authorization: Bearer $2" -F "audio_file=@shared/fixtures/audio/tone-1500ms.wav" \
    "$1/rooms/$room/tracks" | json_get track.id)
  curl -fs -o /dev/null -X POST -H "authorization: Bearer $2" "$1/rooms/$room/playback/pause"
  echo "$room:$track"
}
