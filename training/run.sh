#!/usr/bin/env bash
# The whole recipe, stage by stage; a stage whose output exists is skipped, so rerunning continues where it
# stopped. Training stages run in chunks of at most --max-minutes (default 110) and resume from checkpoints.
#
#   training/run.sh [--profile tiny|full] [--threads N] [--max-minutes M] [STAGE ...]
#
# Stages: corpus tokenizer data pretrain label step1 step2 export convert evaluate agreement ship
# (default: all; "ship" copies the converted model into models/tah-code-default/ and runs for --profile full only).
set -euo pipefail

cd "$(dirname "$0")/.."
PROFILE=full
THREADS=1
MAX_MINUTES=110
STAGES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --max-minutes) MAX_MINUTES="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) STAGES+=("$1"); shift ;;
    esac
done
[ ${#STAGES[@]} -gt 0 ] || STAGES=(corpus tokenizer data pretrain label step1 step2 export convert evaluate agreement ship)

# Debian's torch; the pyenv python on PATH has none. Niced: other work shares these cores.
PY="nice -n 10 /usr/bin/python3"
WORK="${TAH_TRAINING_CACHE:-$HOME/.cache/tah-copilot/training}/$PROFILE"
SHIP_TYPE=f16
export PYTHONPATH="$PWD/training"
export OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"

train_stage() {
    # One process per chunk; each stops after MAX_MINUTES and the next resumes from the checkpoint.
    local stage="$1" final="$2"
    until [ -f "$WORK/$final" ]; do
        $PY training/train.py "$stage" --profile "$PROFILE" --threads "$THREADS" --max-minutes "$MAX_MINUTES"
    done
}

convert() {
    local type="$1" out="$WORK/converted-$1"
    [ -f "$out/tah-model.json" ] && { echo "convert: exists, $out"; return; }
    nice -n 10 npx tsx src/cli/main.ts convert "$WORK/checkpoint" --out "$out" --type "$type" --threads "$THREADS" \
        --name "tah-code-default"
}

for stage in "${STAGES[@]}"; do
    echo "=== $stage ($PROFILE)"
    case "$stage" in
        corpus) $PY training/corpus.py --profile "$PROFILE" ;;
        tokenizer) $PY training/bpe.py --profile "$PROFILE" ;;
        data) $PY training/data.py --profile "$PROFILE" ;;
        pretrain) train_stage pretrain pretrain.pt ;;
        label) $PY training/train.py label --profile "$PROFILE" --threads "$THREADS" ;;
        step1) train_stage step1 step1.pt ;;
        step2) train_stage step2 step2.pt ;;
        export) $PY training/export.py --profile "$PROFILE" ;;
        convert) convert f32; convert "$SHIP_TYPE" ;;
        evaluate)
            [ -f "$WORK/evaluation.json" ] && echo "evaluate: exists, $WORK/evaluation.json" || \
                $PY training/evaluate.py --profile "$PROFILE" --threads "$THREADS" ;;
        agreement)
            for type in f32 "$SHIP_TYPE"; do
                nice -n 10 npx tsx training/engine_agreement.ts --profile "$PROFILE" --model "$WORK/converted-$type" \
                    --out "$WORK/agreement-$type.json"
            done ;;
        ship)
            if [ "$PROFILE" != full ]; then echo "ship: only the full profile is shipped"; continue; fi
            rm -rf models/tah-code-default
            mkdir -p models/tah-code-default
            cp "$WORK/converted-$SHIP_TYPE"/{backbone.gguf,lora.gguf,decider.gguf} models/tah-code-default/
            # The manifest's source is informational: name the recipe instead of this machine's cache path.
            /usr/bin/python3 - "$WORK/converted-$SHIP_TYPE/tah-model.json" models/tah-code-default/tah-model.json <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
manifest["source"]["checkpoint"] = "~/.cache/tah-copilot/training/full/checkpoint, made by training/run.sh"
manifest["source"]["recipe"] = "training/README.md"
open(sys.argv[2], "w").write(json.dumps(manifest, indent=4) + "\n")
PY
            ls -l models/tah-code-default ;;
        *) echo "unknown stage $stage"; exit 2 ;;
    esac
done
