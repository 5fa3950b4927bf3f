#!/usr/bin/env bash
# The OpenADR 3 cycle on loopback: a service, an operator, one campus's VEN, settlement on the signed ledger.
# Run from the repository's root once .venv exists (`make demo` makes it):  bash examples/openadr/cycle.sh
set -euo pipefail
BIN=${BIN:-.venv/bin}
WORK=$(mktemp -d)
DATA=$WORK/service
PORT=${PORT:-8765}
OP=$($BIN/wattscale token create grid-op --role operator --data "$DATA")
VEN=$($BIN/wattscale token create campus-a --role ven --data "$DATA")
$BIN/wattscale serve --data "$DATA" --port "$PORT" --log-level warning & SERVER=$!
trap 'kill $SERVER; rm -rf "$WORK"' EXIT
until curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null; do sleep 0.3; done
VTN="http://127.0.0.1:$PORT/openadr3/3.0.1"
curl -sf "http://127.0.0.1:$PORT/api/v1/dr/ledger/trust" > "$WORK/trust.json"   # pin the operator's key first
auth=(-H "Authorization: Bearer $OP" -H "Content-Type: application/json")
PROGRAM=$(curl -sf "${auth[@]}" -d @examples/openadr/program.json "$VTN/programs" | $BIN/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
EVENT=$(sed "s/PROGRAM_ID/$PROGRAM/" examples/openadr/event.json | curl -sf "${auth[@]}" -d @- "$VTN/events" | $BIN/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "program $PROGRAM, event $EVENT: 50 MW less for 3 h at 800 USD/MWh"
WATTSCALE_TOKEN=$VEN $BIN/wattscale ven examples/openadr/campus.yaml --vtn "$VTN" --name campus-a
curl -sf -X POST "${auth[@]}" "http://127.0.0.1:$PORT/api/v1/dr/events/$EVENT/settle" | $BIN/python -m json.tool
curl -sf "http://127.0.0.1:$PORT/api/v1/dr/ledger/checkpoint" > "$WORK/checkpoint.json"
$BIN/wattscale ledger verify "$DATA/ledger/demand-response-ledger.sqlite" --trust "$WORK/trust.json" \
    --checkpoint "$WORK/checkpoint.json"
