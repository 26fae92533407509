#!/bin/bash
# Issue 19 on a GPU: a half-depth student (layers 0, 2, 4 of the bundled all-MiniLM-L6-v2) distilled for longer than
# a CPU allows, then scored with benchmarks/bench_distill.py on the English dev suite and on the shipped English
# test slices (examples/data/*_en), for each learning rate and seed given.
#
#   benchmarks/distill_gpu.sh TEACHER DEV_SUITE OUT_DIR [LR ...]      (defaults: LR 3e-4 1e-4)
#   e.g. benchmarks/distill_gpu.sh default runs/dev_suite runs/distill_gpu
#   python benchmarks/distill_seeds.py OUT_DIR/distill_gpu_dev_lrLR_s*.json --output ...  (mean and spread over seeds)
#
# Env: MINUTES (training time cap per run, default 2), EPOCHS (default 40), BATCH (default 128), DEVICE (cuda),
# SEEDS (default 1), TEXTS (training text files, default: debian_pairs_en, stsb_train_en, csl_title_abstract_zh of
# examples/training_data), PARALLEL (1: one run at a time, the default; N > 1: all runs of one learning rate side by
# side, THREADS CPU threads each, default 4), EXTRA (more `st-plus distill` arguments, e.g. "--max-steps 2" for a smoke
# run), TASKS (only these task folders), PACK (an archive to write every result JSON into, after each phase). Speed is
# measured on CPU with one thread, alone, on the dev scoring of the first run only (the ratio is the same for every
# student of one shape). Teacher scores are computed once per suite (OUT_DIR/cache_dev, OUT_DIR/cache_test).
set -euo pipefail
TEACHER=$1; DEV=$2; OUT=$3; shift 3
LRS=${*:-3e-4 1e-4}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TD=$REPO/examples/training_data
TEXTS=${TEXTS:-$TD/debian_pairs_en.jsonl.gz $TD/stsb_train_en.jsonl $TD/csl_title_abstract_zh.jsonl}
TEST=$(mktemp -d)/test_suite; mkdir -p "$TEST/en"
for d in "$REPO"/examples/data/*_en; do ln -s "$d" "$TEST/en/"; done
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/cache_*/student_*.json   # the students are trained again: scores of earlier ones are stale
export OMP_NUM_THREADS=${THREADS:-4} TOKENIZERS_PARALLELISM=false

pack() { [ -z "${PACK:-}" ] || (cd "$OUT" && tar czf "$PACK" $(ls *.json */st_plus_distill.json *.log 2>/dev/null)); }

waitall() {  # wait for every job given; fail (after all have ended) if any failed
  local failed=0; for pid in "$@"; do wait "$pid" || failed=1; done
  [ $failed = 0 ] || { echo "a run failed: see $OUT/*.log" >&2; pack; exit 1; }
}

runs=()
for LR in $LRS; do
  pids=()
  for SEED in ${SEEDS:-1}; do
    student=$OUT/student-lr$LR-s$SEED; runs+=("$LR $SEED"); mkdir -p "$student"
    python3 -m st_plus distill --teacher "$TEACHER" --student-layers 0,2,4 --texts $TEXTS \
      --epochs "${EPOCHS:-40}" --max-minutes "${MINUTES:-2}" --batch-size "${BATCH:-128}" --learning-rate "$LR" \
      --max-seq-length 256 --seed "$SEED" --device "${DEVICE:-cuda}" --overwrite --output "$student" ${EXTRA:-} \
      > "$OUT/train-lr$LR-s$SEED.log" 2>&1 &
    pids+=($!); [ "${PARALLEL:-1}" -gt 1 ] || waitall $!
  done
  waitall "${pids[@]}"
done
for log in "$OUT"/train-*.log; do tail -n 3 "$log"; done
pack

score() {  # LR SEED SPLIT [speed arguments]
  local suite=$DEV; [ "$3" = test ] && suite=$TEST
  python3 "$REPO"/benchmarks/bench_distill.py --teacher "$TEACHER" --student "$OUT/student-lr$1-s$2" \
    --dev-suite "$suite" --device "${DEVICE:-cuda}" --threads 1 --cache-dir "$OUT/cache_$3" \
    ${TASKS:+--tasks $TASKS} ${4:---speed-texts 0} --output "$OUT/distill_gpu_${3}_lr$1_s$2.json"
}
first=${runs[0]}
score $first dev "--speed-texts 256 --reps 3"   # alone: the speed measurement, and the teacher's cached scores
score $first test
pids=()
for run in "${runs[@]:1}"; do
  { score $run dev > "$OUT/score-${run// /-}.log" 2>&1 && score $run test >> "$OUT/score-${run// /-}.log" 2>&1; } &
  pids+=($!); [ "${PARALLEL:-1}" -gt 1 ] || waitall $!
done
waitall "${pids[@]}"
pack
ls "$OUT"/distill_gpu_*.json
