# Sourced by the CI scripts that start a Funnel server in the background with PORT=0.
# wait_for_server LOG PID LABEL: waits until LOG names the listening address and /readyz answers 200;
# sets URL. Exits 2 (printing the log's tail) if the server exits or never becomes ready (~60 s).
wait_for_server() {
  local log=$1 pid=$2 label=$3
  URL=
  for _ in $(seq 1 600); do
    URL=$(grep -o 'Server listening at http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 | sed 's/Server listening at //' || true)
    [[ -n "$URL" ]] && curl -fsS "$URL/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$label: server exited:"; tail -n 50 "$log"; exit 2; }
    sleep 0.1
  done
  echo "$label: server did not become ready"; tail -n 50 "$log"; exit 2
}
