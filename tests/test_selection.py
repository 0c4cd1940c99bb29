"""Core-set selection (Moser, Raue, Dengel 2024; HDC, Ding et al. 2023; CCS, Zheng et al. 2023): exact
membership of every strategy on known score lists, determinism, bad inputs, keep-lists, the CLI and the
score plots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import write_paired_folder

from basicsr_distill.preparation.lmdb_io import LmdbWriter, read_lmdb_keys
from basicsr_distill.selection.coreset import coreset_from_options, select_coreset
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.features import EXTRACTORS, dataset_features
from basicsr_distill.selection.keep_list import read_keep_list, write_keep_list
from basicsr_distill.selection.scores_io import check_scores_cover, read_scores
from basicsr_distill.selection.strategies.ccs import ccs_strata
from basicsr_distill.selection.strategies.descending import Descending
from basicsr_distill.selection.strategies.hdc import FEATURES, Hdc
from basicsr_distill.selection.strategy import (
    SelectionError,
    SelectionInputs,
    fraction_count,
    select,
    strategy_from_options,
)
from basicsr_distill.utils import sha256_file

# Ascending: i b g d j a f h c e   Descending: c e f h a j d g b i   (ties c/e and f/h broken by name)
KNOWN = {"a": 5.0, "b": 1.0, "c": 9.0, "d": 3.0, "e": 9.0, "f": 7.0, "g": 2.0, "h": 7.0, "i": 0.0, "j": 4.0}


def pick(strategy: str, ratio: float, offset: float = 0.0, seed: int = 0, scores: dict | None = None) -> list:
    options = {"strategy": strategy, "ratio": ratio, "seed": seed} | ({"offset": offset} if offset else {})
    return select(scores or KNOWN, strategy_from_options(options))


def write_scores(path: Path, scores: dict[str, float]) -> Path:
    path.write_text("name,score\n" + "".join(f"{name},{value!r}\n" for name, value in scores.items()))
    return path


def write_lmdb_pair(folder: Path, count: int = 8, size: int = 16) -> tuple[Path, Path]:
    """A tiny paired dataset as two BasicSR LMDBs (``{index:04d}`` keys): ``(gt_lmdb, lq_lmdb)``."""
    gt_dir, lq_dir = write_paired_folder(folder / "folders", count=count, size=size, scale=2)
    lmdbs = []
    for source, name in ((gt_dir, "gt.lmdb"), (lq_dir, "lq.lmdb")):
        index = DatasetIndex(source)
        with LmdbWriter(folder / name) as writer:
            for key in index.names:
                writer.put(key, index.read(key))
        lmdbs.append(folder / name)
    return lmdbs[0], lmdbs[1]


# --- ascending / descending / refined: exact membership -------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "ratio", "offset", "expected"),
    [
        ("ascending", 0.3, 0.0, ["b", "g", "i"]),
        ("ascending", 0.2, 0.2, ["d", "g"]),  # offset skips the easiest two (i, b)
        ("descending", 0.3, 0.0, ["c", "e", "f"]),
        ("descending", 0.1, 0.0, ["c"]),  # tie c = e = 9: c by name
        ("descending", 0.3, 0.1, ["e", "f", "h"]),  # refined: skip c
        ("descending", 0.5, 0.1, ["a", "e", "f", "h", "j"]),
        ("descending", 0.3, 0.2, ["a", "f", "h"]),
        ("descending", 1.0, 0.0, sorted(KNOWN)),
        ("descending", 0.25, 0.05, ["e", "f", "h"]),  # round half up: 2.5 -> 3 taken, 0.5 -> 1 skipped
        ("descending", 0.24, 0.0, ["c", "e"]),  # 2.4 -> 2
    ],
)
def test_ranked_strategies_exact_membership(strategy: str, ratio: float, offset: float, expected: list) -> None:
    assert pick(strategy, ratio, offset) == expected


def test_refined_half_is_rank_percentiles_5_to_55_from_the_top() -> None:
    scores = {f"s{index:03d}": float(index) for index in range(100)}
    chosen = pick("descending", 0.5, 0.05, scores=scores)
    assert chosen == [f"s{index:03d}" for index in range(45, 95)]  # 99..95 skipped, 94..45 kept
    assert pick("ascending", 0.5, scores=scores) == [f"s{index:03d}" for index in range(50)]


def test_sizes_round_half_up() -> None:
    assert [fraction_count(0.05, n) for n in (10, 30, 32592)] == [1, 2, 1630]
    assert fraction_count(0.5, 32592) == 16296
    assert fraction_count(0.5, 5) == 3


# --- random -------------------------------------------------------------------------------------------------


def test_random_is_a_seeded_draw_over_name_sorted_names() -> None:
    chosen = pick("random", 0.4, seed=3)
    names = sorted(KNOWN)
    expected = sorted(names[index] for index in np.random.default_rng(3).choice(10, size=4, replace=False))
    assert chosen == expected
    assert pick("random", 0.4, seed=3) == chosen
    draws = {tuple(pick("random", 0.4, seed=seed)) for seed in range(10)}
    assert len(draws) > 1
    assert pick("random", 0.4, seed=3, scores=dict(reversed(KNOWN.items()))) == chosen  # file order is irrelevant


# --- CCS: strata by hand ----------------------------------------------------------------------------------------

# After dropping the two hardest (z1, z2), scores span [0, 50]: 50 strata of width 1, stratum = floor(score).
CCS_SCORES = {
    "z1": 100.0,
    "z2": 90.0,
    "a0": 0.0,  # stratum 0: 1 name
    "b0": 10.2,  # stratum 10: 2 names
    "b1": 10.5,
    **{f"c{index}": 25.0 + index / 10 for index in range(6)},  # stratum 25: 6 names
    "d0": 49.5,  # stratum 49: 3 names (the maximum 50.0 falls into the last stratum)
    "d1": 50.0,
    "d2": 49.1,
}


def test_ccs_strata_are_equal_width_over_the_kept_range() -> None:
    kept = sorted(set(CCS_SCORES) - {"z1", "z2"})
    strata = ccs_strata(CCS_SCORES, kept, 50)
    sizes = {index: sorted(group) for index, group in enumerate(strata) if group}
    assert sizes == {0: ["a0"], 10: ["b0", "b1"], 25: [f"c{i}" for i in range(6)], 49: ["d0", "d1", "d2"]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ccs_fills_smallest_stratum_first(seed: int) -> None:
    # N = 14; offset 2/14 drops z1, z2; budget round(8/14 * 14) = 8 over strata of sizes 1, 2, 3, 6:
    # 8 // 4 = 2 -> 1 (a0), rest 7 // 3 = 2 -> 2 (b*), rest 5 // 2 = 2 -> 2 of d*, rest 3 // 1 -> 3 of c*.
    chosen = pick("ccs", 8 / 14, 2 / 14, seed=seed, scores=CCS_SCORES)
    assert len(chosen) == 8
    assert {"a0", "b0", "b1"} <= set(chosen) and not {"z1", "z2"} & set(chosen)
    assert Counter(name[0] for name in chosen) == {"a": 1, "b": 2, "c": 3, "d": 2}
    assert pick("ccs", 8 / 14, 2 / 14, seed=seed, scores=CCS_SCORES) == chosen


def test_ccs_drop_breaks_ties_by_name_and_budget_passes_on() -> None:
    scores = {"x": 5.0, "w": 5.0, "a": 0.0, "b": 1.0}
    # offset 0.25 -> drop 1: the hardest tie (w, x) drops w; budget 3 = everything left
    assert pick("ccs", 0.75, 0.25, scores=scores) == ["a", "b", "x"]


# --- HDC: median filter, k-means, even per-cluster sampling -----------------------------------------------------


def blob_features(sizes: tuple[int, ...]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Names above the median in well-separated feature blobs of ``sizes``; as many names below the median."""
    scores, vectors = {}, {}
    rng = np.random.default_rng(0)
    index = 0
    for blob, size in enumerate(sizes):
        for _ in range(size):
            name = f"hi{index:02d}"
            scores[name] = 100.0 + index
            vectors[name] = np.array([blob * 100.0, -blob * 50.0]) + rng.normal(0, 0.1, size=2)
            index += 1
    for low in range(index):
        scores[f"lo{low:02d}"] = float(low)
        vectors[f"lo{low:02d}"] = rng.normal(0, 1, size=2)
    return scores, vectors


def test_hdc_keeps_above_median_and_samples_evenly_per_cluster() -> None:
    scores, vectors = blob_features((2, 6, 12))  # N = 40, 20 above the median
    requested: list[list[str]] = []

    def features(names: list[str]) -> np.ndarray:
        requested.append(list(names))
        return np.stack([vectors[name] for name in names])

    hdc = Hdc(0.25, clusters=3, seed=0)  # budget 10: 2 | 10//3=3 -> 2, 8//2 -> 4, 4
    chosen = select(scores, hdc, SelectionInputs(features=features))
    assert requested == [sorted(name for name in scores if name.startswith("hi"))]  # only the pool is featurized
    assert len(chosen) == 10 and all(name.startswith("hi") for name in chosen)
    blob_of = {name: 0 if int(name[2:]) < 2 else 1 if int(name[2:]) < 8 else 2 for name in chosen}
    assert Counter(blob_of.values()) == {0: 2, 1: 4, 2: 4}
    assert select(scores, hdc, SelectionInputs(features=features)) == chosen


def test_hdc_equal_clusters_get_equal_shares() -> None:
    scores, vectors = blob_features((5, 5, 5))  # 15 above the median of 30

    def features(names: list[str]) -> np.ndarray:
        return np.stack([vectors[name] for name in names])

    chosen = select(scores, Hdc(0.3, clusters=3), SelectionInputs(features=features))  # 9 = 3 per cluster
    assert Counter(int(name[2:]) // 5 for name in chosen) == {0: 3, 1: 3, 2: 3}


def test_hdc_half_of_an_odd_count_is_the_whole_upper_half() -> None:
    scores = {f"s{index}": float(index) for index in range(7)}  # upper half by rank: s3..s6 (round(3.5) = 4)
    flat = SelectionInputs(features=lambda names: np.zeros((len(names), 2)))
    chosen = select(scores, Hdc(0.5, clusters=2), flat)
    assert chosen == ["s3", "s4", "s5", "s6"]


def test_hdc_refuses_more_than_the_above_median_pool() -> None:
    scores, vectors = blob_features((5, 5))
    with pytest.raises(SelectionError, match=r"upper half .*\(use ratio <= 0.5000\)"):
        select(scores, Hdc(0.6, clusters=2), SelectionInputs(features=lambda names: np.zeros((len(names), 2))))
    with pytest.raises(SelectionError, match="strategy 'hdc' needs the dataset's images"):
        select(scores, Hdc(0.2))


@pytest.mark.parametrize("kind", sorted(EXTRACTORS))
def test_hdc_features_from_images(tmp_path: Path, kind: str) -> None:
    assert tuple(EXTRACTORS) == FEATURES  # hdc's choices name every extractor
    gt_dir, _ = write_paired_folder(tmp_path, count=4, size=16, scale=2)
    index = DatasetIndex(gt_dir)
    matrix = dataset_features(index, kind, workers=2)(index.names)
    assert matrix.shape == (4, 22 if kind == "sobel_hist" else 192) and np.isfinite(matrix).all()
    if kind == "sobel_hist":
        np.testing.assert_allclose(matrix[:, :16].sum(axis=1), 1.0, rtol=1e-6)


def test_sobel_hist_features_separate_flat_from_textured() -> None:
    flat = np.full((16, 16, 3), 90, np.uint8)
    textured = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    flat_features, textured_features = EXTRACTORS["sobel_hist"](flat), EXTRACTORS["sobel_hist"](textured)
    assert flat_features[0] == 1.0 and textured_features[0] < 0.1  # all flat pixels in the zero-gradient bin
    np.testing.assert_allclose(flat_features[16:19], 90 / 255, rtol=1e-6)  # channel means
    np.testing.assert_allclose(flat_features[19:], 0.0, atol=1e-6)  # channel stds


def test_hdc_end_to_end_on_images(tmp_path: Path) -> None:
    gt_dir, _ = write_paired_folder(tmp_path, count=8, size=16, scale=2)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index) for index in range(8)})
    options = {"scores": str(scores), "strategy": "hdc", "ratio": 0.25, "clusters": 2, "features": "pixels"}
    coreset = coreset_from_options(options, [f"{index:04d}" for index in range(8)], image_root=gt_dir)
    assert len(coreset.names) == 2 and all(int(name) >= 4 for name in coreset.names)
    assert coreset.record["parameters"] == {"ratio": 0.25, "clusters": 2, "features": "pixels"}


def test_hdc_records_and_logs_fewer_clusters_than_asked(tmp_path: Path) -> None:
    # with fewer distinct candidates than `clusters`, k-means used fewer and the record said the asked k.
    import logging

    import cv2

    gt_dir, _ = write_paired_folder(tmp_path, count=8, size=16, scale=2)
    for index in range(4, 8):  # the above-median candidates: two distinct images, each twice
        cv2.imwrite(str(gt_dir / f"{index:04d}.png"), np.full((16, 16, 3), 40 * (index % 2), np.uint8))
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index) for index in range(8)})
    options = {"scores": str(scores), "strategy": "hdc", "ratio": 0.25, "clusters": 3, "features": "pixels"}
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("basicsr").addHandler(handler)
    try:
        coreset = coreset_from_options(options, [f"{index:04d}" for index in range(8)], image_root=gt_dir)
    finally:
        logging.getLogger("basicsr").removeHandler(handler)
    assert coreset.record["parameters"]["clusters"] == 3 and coreset.record["clusters_used"] == 2
    assert messages == [
        "hdc: clusters 3 asked, 2 used: the 4 above-median candidates have only 2 distinct feature rows"
    ]
    assert sorted(int(name) % 2 for name in coreset.names) == [0, 1]  # one from each of the 2 clusters


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,score\na,1\nb,x\n", r"scores.csv:3: score of 'b' is not a number: 'x'"),
        ("name,score\na,1\nb,nan\n", r"scores.csv:3: score of 'b' is nan \(NaN or infinite\)"),
        ("name,score\na,inf\n", r"NaN or infinite"),
        ("name,score\na,1\nb,2\na,3\nb,4\n", r"scores.csv: 2 duplicate name\(s\): a, b"),
        ("name,score\n", r"no scores"),
        ("a,1\nb,2\n", r"expected a 'name,score' header"),
        ("name,score\na\n", r"scores.csv:2: expected 'name,score'"),
    ],
)
def test_bad_scores_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scores.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_scores(path)


def test_scores_must_match_the_dataset_names() -> None:
    dataset = [f"{index:04d}" for index in range(10)]
    scores = {name: 1.0 for name in dataset[2:]} | {"x1": 1.0, "x2": 2.0, "x3": 3.0, "x4": 4.0}
    with pytest.raises(ValueError) as error:
        check_scores_cover(scores, dataset, "scores.csv")
    message = str(error.value)
    assert "\n" not in message
    assert "2 of 10 dataset names have no score (e.g. 0000, 0001)" in message
    assert "4 scored names are not in the dataset (e.g. x1, x2, x3, ...)" in message
    check_scores_cover({name: 1.0 for name in dataset}, dataset, "scores.csv")
    with pytest.raises(FileNotFoundError, match="scores file not found"):
        read_scores("does/not/exist.csv")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "descending", "ratio": 0.0}, r"ratio must be in \(0, 1\], got 0.0"),
        ({"strategy": "descending", "ratio": 1.5}, r"ratio must be in \(0, 1\], got 1.5"),
        ({"strategy": "descending", "ratio": -0.1}, r"ratio must be in \(0, 1\]"),
        ({"strategy": "descending", "ratio": float("nan")}, r"ratio must be a finite number"),
        ({"strategy": "descending", "ratio": 0.6, "offset": 0.5}, r"offset \+ ratio must be <= 1"),
        ({"strategy": "ascending", "ratio": 0.5, "offset": -0.1}, r"offset must be in \[0, 1\)"),
        (
            {"strategy": "random", "ratio": 0.5, "offset": 0.1},
            r"unknown selection option\(s\) offset; known: ratio, seed$",
        ),
        ({"strategy": "hdc", "ratio": 0.5, "offset": 0.1}, r"unknown selection option\(s\) offset"),
        (
            {"strategy": "hardest", "ratio": 0.5},
            r"^strategy: unknown selection strategy 'hardest' \(registered: ascending, ccs, descending, hdc, random",
        ),
        (
            {"strategy": "hdc", "ratio": 0.5, "features": "vgg"},
            r"features must be one of sobel_hist, pixels, got 'vgg'",
        ),
        ({"strategy": "hdc", "ratio": 0.5, "clusters": 0}, r"clusters must be >= 1, got 0"),
        ({"strategy": "ccs", "ratio": 0.5, "strata": 0}, r"strata must be >= 1, got 0"),
        ({"strategy": "random", "ratio": 0.5, "seed": 1.5}, r"seed must be an integer, got 1.5"),
        ({"strategy": "random"}, r"^ratio is required$"),
        ({"ratio": 0.5}, r"^strategy: missing; name one of ascending, ccs, descending, hdc, random"),
    ],
)
def test_bad_selection_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        strategy_from_options(kwargs)


def test_empty_selection_and_unknown_options_are_refused() -> None:
    with pytest.raises(SelectionError, match=r"ratio 0.04 of 10 scored names selects nothing"):
        pick("descending", 0.04)
    with pytest.raises(SelectionError, match="unknown selection option"):
        strategy_from_options({"strategy": "random", "ratio": 0.5, "ratios": 0.5})
    with pytest.raises(SelectionError, match="exactly one of 'scores' or 'keep_list'"):
        coreset_from_options({"strategy": "random", "ratio": 0.5}, ["a"])


# --- keep-lists and records ------------------------------------------------------------------------------------


def test_keep_list_round_trip_in_basicsr_meta_info_format(tmp_path: Path) -> None:
    meta = {"0001_s001": "0001_s001.png (480,480,3) 1", "0001_s002": "0001_s002.png (480,480,3) 1"}
    path = write_keep_list(tmp_path / "keep.txt", ["0001_s001", "0001_s003"], meta)
    assert path.read_text() == "0001_s001.png (480,480,3) 1\n0001_s003.png\n"
    assert read_keep_list(path) == ["0001_s001", "0001_s003"]
    (tmp_path / "dup.txt").write_text("a.png\nb.png (1,1,3) 1\na.png\n")
    with pytest.raises(ValueError, match=r"dup.txt: 1 duplicate name\(s\): a"):
        read_keep_list(tmp_path / "dup.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="keep-list is empty"):
        read_keep_list(tmp_path / "empty.txt")


def test_keep_list_option_checks_names(tmp_path: Path) -> None:
    write_keep_list(tmp_path / "keep.txt", ["b", "zz"])
    with pytest.raises(ValueError, match=r"keep.txt: 1 kept names are not in the dataset \(e.g. zz\)"):
        coreset_from_options({"keep_list": str(tmp_path / "keep.txt")}, ["a", "b"])
    coreset = coreset_from_options({"keep_list": str(tmp_path / "keep.txt")}, ["a", "b", "zz"])
    assert coreset.names == ["b", "zz"] and coreset.record["count"] == 2


def test_selection_record(tmp_path: Path) -> None:
    scores_path = write_scores(tmp_path / "scores.csv", KNOWN)
    coreset = select_coreset(scores_path, Descending(0.3, offset=0.1), sorted(KNOWN))
    assert coreset.names == ["e", "f", "h"]
    record = coreset.record
    assert record["strategy"] == "descending" and record["seed"] == 0
    assert record["parameters"] == {"ratio": 0.3, "offset": 0.1}
    assert record["scores_sha256"] == sha256_file(scores_path) and len(record["scores_sha256"]) == 64
    assert (record["total"], record["count"]) == (10, 3)
    assert record["score_range"] == [7.0, 9.0] and record["full_score_range"] == [0.0, 9.0]
    assert "core-set of 3 / 10 sub-images (30.0%), strategy descending" in coreset.summary()


# --- the CLI ----------------------------------------------------------------------------------------------------


def run_cli(*args: str) -> int:
    from select_coreset import main  # scripts/ is put on sys.path by the fixture below

    return main(list(args))


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))


def test_cli_writes_keep_list_record_and_materialized_lmdb_pair(tmp_path: Path, cli: None, capsys) -> None:
    gt, lq = write_lmdb_pair(tmp_path, count=8)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index % 5) for index in range(8)})
    out = tmp_path / "out"
    args = ["--scores", str(scores), "--gt", str(gt), "--lq", str(lq), "--strategy", "descending"]
    args += ["--ratio", "0.5", "--offset", "0.125", "--out", str(out), "--materialize"]
    assert run_cli(*args) == 0
    # scores 0 1 2 3 4 0 1 2 -> descending 0004 0003 0002 0007 0001 0006 0000 0005: skip 1, take 4
    expected = ["0001", "0002", "0003", "0007"]
    lines = (out / "meta_info_coreset.txt").read_text().splitlines()
    assert lines == [f"{name}.png (16,16,3) 1" for name in expected]
    record = json.loads((out / "selection.json").read_text())
    assert record["count"] == 4 and record["scores_sha256"] == sha256_file(scores)
    assert record["score_range"] == [1.0, 3.0] and record["materialized"]["gt"] == str(out / "gt.lmdb")
    assert read_lmdb_keys(out / "gt.lmdb") == expected == read_lmdb_keys(out / "lq.lmdb")
    with DatasetIndex(lq) as source, DatasetIndex(out / "lq.lmdb") as copy:
        assert all(np.array_equal(source.read(name), copy.read(name)) for name in expected)
    assert "core-set of 4 / 8 sub-images" in capsys.readouterr().out
    # same selection again: nothing to do; another selection: refused without --overwrite
    stamp = (out / "selection.json").stat().st_mtime_ns
    assert run_cli(*args) == 0 and (out / "selection.json").stat().st_mtime_ns == stamp
    other = ["--scores", str(scores), "--gt", str(gt), "--strategy", "ascending", "--ratio", "0.25", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*other)
    assert exit_info.value.code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert run_cli(*other, "--overwrite") == 0
    assert read_keep_list(out / "meta_info_coreset.txt") == ["0000", "0005"]
    assert not (out / "gt.lmdb").exists() and not (out / "lq.lmdb").exists()  # the stale core-set LMDBs are gone


def test_cli_folder_keep_list_works_as_basicsr_meta_info_file(tmp_path: Path, cli: None) -> None:
    from basicsr.data.data_util import paired_paths_from_meta_info_file

    gt_dir, lq_dir = write_paired_folder(tmp_path, count=6, size=16, scale=2)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index) for index in range(6)})
    args = ["--scores", str(scores), "--gt", str(gt_dir), "--strategy", "ascending", "--ratio", "0.5"]
    assert run_cli(*args, "--out", str(tmp_path / "out")) == 0
    keep = tmp_path / "out" / "meta_info_coreset.txt"
    paths = paired_paths_from_meta_info_file([str(lq_dir), str(gt_dir)], ["lq", "gt"], str(keep), "{}")
    assert [Path(entry["gt_path"]).name for entry in paths] == ["0000.png", "0001.png", "0002.png"]
    assert all(Path(entry["lq_path"]).is_file() for entry in paths)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ratio", "1.5"], "ratio must be in (0, 1], got 1.5"),
        (["--ratio", "0.5", "--offset", "0.6", "--strategy", "descending"], "offset + ratio must be <= 1"),
        (["--ratio", "0.5", "--materialize"], "--materialize needs --lq"),
        (["--ratio", "0.5"], "scores do not match the dataset: 1 of 4 dataset names have no score (e.g. 0003)"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, cli: None, capsys, extra: list, message: str) -> None:
    gt_dir, _ = write_paired_folder(tmp_path, count=4, size=16, scale=2)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": 1.0 for index in range(3)})
    args = ["--scores", str(scores), "--gt", str(gt_dir), "--strategy", "random", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args, *extra)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_cli_help(cli: None, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--help")
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(
        word in text for word in ("ascending", "descending", "--offset", "ccs", "hdc", "meta_info", "--materialize")
    )


# --- analysis figures (Moser et al. 2024, Figs. 2-4) -----------------------------------------------------------


def test_cut_lines_and_cumulative_share() -> None:
    from basicsr_distill.reporting.score_plots import cumulative_share, cut_lines, share_held

    cuts = cut_lines(32592, (0.25, 0.5, 0.75), offset=0.05, refined_ratio=0.5)
    assert cuts == {"DES 25%": 8148, "DES 50%": 16296, "DES 75%": 24444, "refined start": 1630, "refined end": 17926}
    share = cumulative_share(np.array([4.0, 3.0, 2.0, 1.0]))
    np.testing.assert_allclose(share, [0.4, 0.7, 0.9, 1.0])
    assert share_held(share, 0, 2) == pytest.approx(0.7) and share_held(share, 1, 3) == pytest.approx(0.5)
    np.testing.assert_array_equal(cumulative_share(np.zeros(3)), np.zeros(3))


def test_plot_scores_cli_writes_pngs(tmp_path: Path, cli: None, capsys) -> None:
    import cv2
    from plot_scores import main as plot_main

    gt_dir, _ = write_paired_folder(tmp_path, count=6, size=16, scale=2)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index) ** 2 for index in range(6)})
    out = tmp_path / "plots"
    assert plot_main(["--scores", str(scores), "--images", str(gt_dir), "--out", str(out), "--top-k", "3"]) == 0
    for name in ("score_distribution.png", "topk_montage.png"):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
    assert sorted(path.name for path in out.iterdir()) == ["score_distribution.png", "topk_montage.png"]
    capsys.readouterr()
    partial = write_scores(tmp_path / "partial.csv", {"0000": 1.0})
    with pytest.raises(SystemExit) as exit_info:
        plot_main(["--scores", str(partial), "--images", str(gt_dir), "--out", str(tmp_path / "none")])
    assert exit_info.value.code == 2 and "5 of 6 dataset names have no score" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        plot_main(["--scores", str(scores), "--out", str(tmp_path / "none"), "--offset", "0.6"])
    assert "offset + ratio must be <= 1" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
