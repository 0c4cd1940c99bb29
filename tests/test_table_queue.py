"""``tables run`` with a row that fails: the queue goes on with the other rows and ends with exit 1 and one line
per failed row (rows of Moser, Raue, Dengel 2024). Real trainings of a tiny SRCNN on CPU, no mock."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_paired_folder
from test_training_contract import srcnn_test_options
from test_training_entry import tiny_options, write_options


def table(root: Path, rows: dict[str, tuple[Path, Path]]) -> Path:
    """``rows.txt`` under ``root`` naming ``train/<row>.yml`` (SRCNN x2, 2 iterations, on its data) and its test."""
    (root / "train").mkdir()
    lines = []
    for name, (gt, lq) in rows.items():
        write_options(root / "train" / f"{name}.yml", tiny_options(name, gt, lq, total_iter=2) | {"val": None})
        test = srcnn_test_options(root, gt, lq) | {"name": name}
        test["path"]["pretrain_network_g"] = f"experiments/{name}/models/net_g_latest.pth"
        write_options(root / f"test_{name}.yml", test)
        lines.append(f"train/{name}.yml test_{name}.yml")
    (root / "rows.txt").write_text("\n".join(lines) + "\n")
    return root / "rows.txt"


def test_failed_rows_do_not_stop_the_others_and_are_named_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One GPU slot, three rows: ``broken`` trains on undecodable images (its training fails), ``blocked`` finds a
    folder where its log file goes (the queue's step raises), ``after`` trains and tests."""
    from basicsr_distill.commands import main

    monkeypatch.chdir(tmp_path)
    good = write_paired_folder(tmp_path / "good", count=6, size=48, scale=2)
    corrupt = write_paired_folder(tmp_path / "corrupt", count=6, size=48, scale=2)
    for image in corrupt[0].iterdir():
        image.write_bytes(b"not a PNG")
    table(tmp_path, {"broken": corrupt, "blocked": good, "after": good})
    (tmp_path / "logs" / "blocked.log").mkdir(parents=True)
    code = main(["tables", "run", "--table", "rows.txt", "--gpus", "0", "--log-dir", "logs"])
    assert (code, capsys.readouterr().out.splitlines()[-3:]) == (
        1,
        [
            "1 of 3 rows done",
            "failed: broken: exit 1, see logs/broken.log",
            "failed: blocked: exit 1, see logs/blocked.log",
        ],
    )
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert f"GPU 0: broken: {tmp_path / 'launch' / 'broken.yml'}: training failed (exit 1, log logs/broken.log)" in (
        warnings
    )
    assert "GPU 0: blocked: logs/blocked.log: Is a directory" in warnings
    assert (tmp_path / "experiments" / "after" / "models" / "net_g_latest.pth").is_file()
    assert "# psnr:" in (tmp_path / "logs" / "after.log").read_text()
