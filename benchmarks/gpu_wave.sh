#!/bin/bash
# One device call of benchmarks/frontier_gpu.py: MNIST unpacked, MPS started, a plan run.
#
# Prepare here (once): echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu/teachers
#   for f in ../shared/data/MNIST/raw/*-ubyte; do gzip -c $f > .gpu/$(basename $f).gz; done
#   cp -r RUNS/teacher-val RUNS/teacher-full .gpu/teachers/   # model.pt + history.json
# Then on the device (carry [".gpu"]): bash benchmarks/gpu_wave.sh DEADLINE_S PLAN
# What comes back: $OUT/jobs.json and $OUT/runs.tar.gz (run folders without checkpoints);
# unpack it and take the runs in with benchmarks/make_frontier.py --runs DIR.
SECONDS=0
mkdir -p /tmp/data/MNIST/raw /tmp/mps /tmp/mpslog /tmp/runs
for f in .gpu/*.gz; do gunzip -c "$f" > /tmp/data/MNIST/raw/$(basename "$f" .gz); done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mpslog
# a machine still warm from the last call has the daemon running already
if (pgrep nvidia-cuda-mps >/dev/null || nvidia-cuda-mps-control -d) &&
  timeout 45 python3 -c "import torch; print(torch.ones(2, device='cuda').sum().item())"; then
  echo "MPS on"
else
  echo quit | timeout 10 nvidia-cuda-mps-control
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  echo "MPS off: the runs are time-sliced, about ten times slower"
fi
cp -r .gpu/teachers/* /tmp/runs/ 2>/dev/null
python3 benchmarks/frontier_gpu.py --plan "${2:-3}" --data /tmp/data --out /tmp/runs \
  --workers 16 --deadline $((${1:-500} - SECONDS))
cp /tmp/runs/jobs.json "$OUT/" 2>/dev/null
tar czf "$OUT/runs.tar.gz" -C /tmp --exclude=checkpoint.pt runs
echo "all done at $SECONDS s"
