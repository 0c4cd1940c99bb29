"""Give the kept patches CLIP pseudo-classes: ViT-B/32 image embeddings (L2-normalised), seeded k-means.

Step 2 of Cho, Jung, Cho, Soh (IEEE SPL 2025). Runs
:func:`basicsr_distill.distillation.clustering.cluster_patches`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  basicsr-distill distill cluster --patches experiments/ost_patches --output experiments/ost_clusters \\
      --k 7 --clip-checkpoint openai   # OpenAI's weights (QuickGELU), open_clip's download in the HF cache
  basicsr-distill distill cluster --patches experiments/div2k_patches --output experiments/div2k_clusters --k 14 \\
      --clip-model ViT-B-32 --clip-checkpoint pretrained_models/laion_ViT-B-32.bin   # GELU-trained weights

Writes labels.csv (name,label), clusters.json (k, seed, n_init, patches per class, inertia, CLIP checkpoint
sha256), embeddings.npy and manifest.json. --clip-checkpoint takes a weights file, an open_clip folder
(open_clip_config.json + weights), an open_clip hub model hf-hub:org/name or a pretrained tag of --clip-model,
found in the Hugging Face cache (HF_HOME; HF_HUB_OFFLINE=1: no download); without it a tiny randomly
initialised CLIP is used, the log says RANDOM WEIGHTS and the outputs record random_weights: true (for tests
only: its clusters mean nothing).
Features are clustered raw, as the authors (--normalize: L2-normalised first).
"""


def _n_init(value: str) -> int | str:
    return value if value == "auto" else int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_overwrite_device
    from basicsr_distill.distillation.configs import ClusterConfig

    defaults = ClusterConfig()
    add_overwrite_device(parser, defaults.device)
    parser.add_argument("--patches", required=True, type=Path, help="patch folder (with patches.csv, or any images)")
    parser.add_argument("--output", required=True, type=Path, help="folder for labels.csv and clusters.json")
    parser.add_argument("--k", type=int, default=defaults.k, help="clusters (OST: 7, DIV2K: 14; default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="k-means seed (default: %(default)s)")
    parser.add_argument(
        "--n-init", type=_n_init, default=defaults.n_init, help="k-means restarts or 'auto' (default: %(default)s)"
    )
    parser.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings (default: raw)")
    parser.add_argument("--clip-model", default=defaults.clip_model, help="open_clip model name (%(default)s)")
    parser.add_argument(
        "--clip-checkpoint",
        help="CLIP weights file, open_clip folder, hf-hub:org/name or a pretrained tag of --clip-model (openai); "
        "default: a random tiny CLIP",
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="CLIP batch (%(default)s)")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.distillation.clustering import ClusterConfig, cluster_patches

    show_info_logs()
    config = ClusterConfig(
        k=args.k,
        seed=args.seed,
        n_init=args.n_init,
        clip_model=args.clip_model,
        clip_checkpoint=args.clip_checkpoint,
        batch_size=args.batch_size,
        device=args.device,
        normalize=args.normalize,
    )
    result = cluster_patches(args.patches, args.output, config, args.overwrite)
    flag = " (RANDOM WEIGHTS)" if result.random_weights else ""
    print(f"{len(result.names)} patches in {config.k} classes {result.counts}{flag} -> {result.labels_csv}")
