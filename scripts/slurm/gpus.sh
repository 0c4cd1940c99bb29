#!/bin/bash
# Sourced by scripts/slurm/*.sbatch: the GPU count of this task from Slurm's own variables, never from
# `nvidia-smi -L`, which lists every GPU of a node that does not confine devices (8 ranks on a 1-GPU allocation).
# Order: SLURM_GPUS_ON_NODE (a count), SLURM_JOB_GPUS (ids, "0,3"), CUDA_VISIBLE_DEVICES (ids, set by Slurm's
# gres plugin). None set, or not a count / id list: one line on stderr, exit status 2.
gpu_count() {
  local count=${SLURM_GPUS_ON_NODE:-} ids=${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-}} source
  if [ -n "$count" ]; then
    source=SLURM_GPUS_ON_NODE
  elif [ -n "$ids" ]; then
    source=$([ -n "${SLURM_JOB_GPUS:-}" ] && echo SLURM_JOB_GPUS || echo CUDA_VISIBLE_DEVICES)
    if ! [[ $ids =~ ^[0-9]+(,[0-9]+)*$ ]]; then
      echo "error: $source: '$ids' is not a list of GPU ids" >&2
      return 2
    fi
    count=$(tr ',' '\n' <<< "$ids" | wc -l)
  else
    echo "error: GPU count: none of SLURM_GPUS_ON_NODE, SLURM_JOB_GPUS, CUDA_VISIBLE_DEVICES is set (request GPUs with --gres=gpu:N)" >&2
    return 2
  fi
  if ! [[ $count =~ ^[1-9][0-9]*$ ]]; then
    echo "error: $source: '$count' is not a GPU count" >&2
    return 2
  fi
  echo "$count"
}
