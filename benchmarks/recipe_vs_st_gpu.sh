#!/bin/bash
# Issue 14 at full_en scale on a lent GPU machine: benchmarks/bench_recipe_vs_st.py's arms, 3 seeds, one run at a
# time (PARALLEL=1, the default) or the seeds of one arm side by side (PARALLEL=3), the arms one after the other, so
# that every plain run shares the machine as its st_plus run did (equal wall clock: each plain run gets its st_plus
# seed's seconds). PARALLEL=3 ran out of GPU memory on an H200: one st_plus run's peak was ~108 GiB there.
#
#   benchmarks/recipe_vs_st_gpu.sh BASE DEV_SUITE OUT [SEED ...]        (default seeds: 42 43 44)
#   e.g. benchmarks/recipe_vs_st_gpu.sh /tmp/base runs/dev_suite runs/recipe_vs_st_full
#   python benchmarks/bench_recipe_vs_st.py report OUT --recipe examples/recipes/full_en.yaml \
#       --output benchmarks/results/recipe_vs_st_full.json
#
# Phases: st_plus; plain; st_plus_static and the untrained start model. After each phase every result.json (and
# each run's log tail) is packed into OUT/results.tar.gz (or PACK), so what finished comes back even if time runs
# out. If no st_plus run wrote its result, the script stops there.
# Env: PARALLEL, RECIPE (default examples/recipes/full_en.yaml), THREADS (CPU threads per process, default 4),
# ARMS3 (the third phase's arms, default "st_plus_static"). Where `import faiss` fails, an exact stand-in
# (benchmarks/gpu_shims/faiss: IndexFlatIP's exhaustive search) is put on PYTHONPATH.
set -uo pipefail
BASE=$1; DEV=$2; OUT=$3; shift 3
SEEDS=${*:-42 43 44}
REPO=$(cd "$(dirname "$0")/.." && pwd)
B="$REPO/benchmarks/bench_recipe_vs_st.py"
RECIPE=${RECIPE:-$REPO/examples/recipes/full_en.yaml}
export ST_PLUS_DEV_SUITE=$DEV OMP_NUM_THREADS=${THREADS:-4} TOKENIZERS_PARALLELISM=false
python3 -c "import faiss" 2>/dev/null || export PYTHONPATH="$REPO/benchmarks/gpu_shims${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); PACK=${PACK:-$OUT/results.tar.gz}

pack() {  # every result.json and each run's log tail, into one archive
  (cd "$OUT" && for d in */; do [ -f "${d}run.log" ] && tail -c 20000 "${d}run.log" > "${d}log_tail.txt"; done
   tar czf "$PACK" $(ls -d */result.json */log_tail.txt 2>/dev/null))
}

phase() {  # ARM: every seed of one arm, one at a time (PARALLEL=1) or all at once (PARALLEL > 1)
  local arm=$1
  local t0=$SECONDS
  for s in $SEEDS; do
    mkdir -p "$OUT/$arm-$s"
    python3 "$B" run --recipe "$RECIPE" --base "$BASE" --arm "$arm" --seed "$s" --out "$OUT/$arm-$s" \
      $( [ "$arm" = plain ] && echo --budget-from "$OUT/st_plus-$s" ) ${DEV_TASKS:+--dev-tasks $DEV_TASKS} \
      > "$OUT/$arm-$s/run.log" 2>&1 &
    [ "${PARALLEL:-1}" -gt 1 ] || wait
  done
  wait
  echo "phase $arm: $((SECONDS - t0)) s"; pack
}

phase st_plus
ls "$OUT"/st_plus-*/result.json > /dev/null 2>&1 || { tail -n 30 "$OUT"/st_plus-*/run.log; exit 1; }
phase plain
for arm in ${ARMS3:-st_plus_static}; do phase "$arm"; done
mkdir -p "$OUT/start-0"; python3 "$B" run --recipe "$RECIPE" --base "$BASE" --arm start --seed 0 --out "$OUT/start-0" \
  ${DEV_TASKS:+--dev-tasks $DEV_TASKS} \
  > "$OUT/start-0/run.log" 2>&1
pack
ls "$OUT"/*/result.json
