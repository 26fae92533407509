#!/bin/bash
# Issue 19 on a GPU: a half-depth student (layers 0, 2, 4 of the bundled all-MiniLM-L6-v2) distilled for longer than
# a CPU allows, then scored with benchmarks/bench_distill.py on the English dev suite and on the shipped English
# test slices (examples/data/*_en), for each learning rate given.
#
#   benchmarks/distill_gpu.sh TEACHER DEV_SUITE OUT_DIR [LR ...]      (defaults: LR 3e-4 1e-4)
#   e.g. benchmarks/distill_gpu.sh default runs/dev_suite runs/distill_gpu
#
# Env: MINUTES (training time cap per run, default 2), EPOCHS (default 40), BATCH (default 128), DEVICE (cuda),
# EXTRA (more `st-plus distill` arguments, e.g. "--max-steps 2" for a smoke run), TASKS (only these task folders). Speed is measured on CPU with one
# thread on the dev run of the first learning rate only (the ratio is the same for every student of one shape).
set -euo pipefail
TEACHER=$1; DEV=$2; OUT=$3; shift 3
LRS=${*:-3e-4 1e-4}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TEST=$(mktemp -d)/test_suite; mkdir -p "$TEST/en"
for d in "$REPO"/examples/data/*_en; do ln -s "$d" "$TEST/en/"; done
mkdir -p "$OUT"
first=1
for LR in $LRS; do
  student=$OUT/student-lr$LR
  python3 -m st_plus distill --teacher "$TEACHER" --student-layers 0,2,4 \
    --texts "$REPO"/examples/training_data/debian_pairs_en.jsonl.gz "$REPO"/examples/training_data/stsb_train_en.jsonl \
            "$REPO"/examples/training_data/csl_title_abstract_zh.jsonl \
    --epochs "${EPOCHS:-40}" --max-minutes "${MINUTES:-2}" --batch-size "${BATCH:-128}" --learning-rate "$LR" \
    --max-seq-length 256 --seed 1 --device "${DEVICE:-cuda}" --overwrite --output "$student" ${EXTRA:-}
  speed="--speed-texts 256 --reps 3"; [ $first = 1 ] || speed="--speed-texts 0"; first=0
  for split in dev test; do
    suite=$DEV; [ $split = test ] && suite=$TEST
    python3 "$REPO"/benchmarks/bench_distill.py --teacher "$TEACHER" --student "$student" --dev-suite "$suite" \
      --device "${DEVICE:-cuda}" --threads 1 $speed ${TASKS:+--tasks $TASKS} --output "$OUT/distill_gpu_${split}_lr$LR.json"
    speed="--speed-texts 0"
  done
done
