#!/bin/bash
# The device call for GPU measurements: MNIST unpacked from .gpu/, then one part.
#
# Prepare here (once): echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu
#   for f in ../shared/data/MNIST/raw/*-ubyte; do gzip -c $f > .gpu/$(basename $f).gz; done
# On the device (carry [".gpu"]):
#   bash benchmarks/gpu_run.sh speed [ARGS]  # benchmarks/gpu_speed.py ARGS -> $OUT/gpu_speed.json
#     (e.g. --parts multi_seed: one part again, the others' rows kept from benchmarks/)
#   bash benchmarks/gpu_run.sh frontier   # every lite recipe, seeds 1-5, one process each
#                                         # -> $OUT/frontier_runs.tar.gz (no checkpoints)
#   bash benchmarks/gpu_run.sh search "CANDIDATE..." [EPOCHS]  # frontier_search.py, seeds 1-3
#                                         # -> $OUT/search.json (results/frontier's, plus them)
SECONDS=0
mkdir -p /tmp/data/MNIST/raw /tmp/runs
for f in .gpu/*.gz; do gunzip -c "$f" > /tmp/data/MNIST/raw/"$(basename "$f" .gz)"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
case "${1:-speed}" in
  speed)
    python3 benchmarks/gpu_speed.py --data /tmp/data --out "$OUT/gpu_speed.json" ${@:2} 2>&1 |
      tee "$OUT/gpu_speed.log" ;;
  frontier)
    for model in ${2:-lite600 lite1k lite2k lite5k lite8k lite10k}; do
      python3 -m mnistlite train "$model" --seeds 1 2 3 4 5 --device cuda --data /tmp/data \
        --out "/tmp/runs/$model" --no-progress 2>&1 | tee -a "$OUT/frontier.log"
      echo "$model done at $SECONDS s" | tee -a "$OUT/frontier.log"
    done
    tar czf "$OUT/frontier_runs.tar.gz" -C /tmp --exclude=checkpoint.pt runs ;;
  search)
    cp results/frontier/search.json "$OUT/search.json"
    python3 benchmarks/frontier_search.py $2 --data /tmp/data --epochs "${3:-60}" --seeds 1 2 3 \
      --out "$OUT/search.json" --storage sqlite:////tmp/search.db 2>&1 | tee "$OUT/search.log" ;;
esac
echo "all done at $SECONDS s"
