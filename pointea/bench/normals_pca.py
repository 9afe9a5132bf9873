"""``pointea-normals-pca``: the classical baseline a learned normal estimator must beat, on exactly
the clouds the network is tested on, scored by the same metric code, in one table with the network.

    pointea-normals-pca --config configs/modelnet40_normals.yaml \\
        --data.init_args.root ../shared/data/modelnet40_real_subset \\
        --compare docs/results/modelnet40_normals_runs.json --out docs/results/modelnet40_normals

PCA normals: for every point, the eigenvector of the smallest eigenvalue of the covariance of its
``k`` nearest neighbours (the point included), by open3d's ``estimate_normals`` with a
``KDTreeSearchParamKNN(k)``, for each ``--k`` (default 10, 20, 30). The clouds are the config's data
module's **test loader**, batch by batch, after its evaluation transform (the same points, in the
same number, that ``pointea test`` scores); the scores are
:class:`~pointea.training.normal_error.NormalError`'s (sign-free unless ``--oriented``; PCA normals
have no orientation, so oriented scores of PCA mean little).

``--compare`` takes the JSON report ``pointea-compare`` wrote for the network configs (same data,
same overrides), or its ``--runs`` folder (the finished runs of a comparison still going), and puts
its per-config mean +- sample standard deviation over seeds (and min / max) beside the PCA rows.
Writes ``<out>.md`` and ``<out>.json``.

Shape legend: B clouds, N points per cloud.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pointea.errors import ConfigError, DataError
from pointea.training.normal_error import THRESHOLDS, NormalError

__all__ = ["pca_normals", "score_pca", "render_table", "main", "METRICS"]

#: (metric key, column heading, scale, decimals): angles in degrees, shares in %.
METRICS: tuple[tuple[str, str, float, int], ...] = (
    ("mean_angle", "mean angle (deg)", 1.0, 2),
    ("median_angle", "median angle (deg)", 1.0, 2),
    *((f"under_{t}", f"< {t} deg (%)", 100.0, 2) for t in THRESHOLDS),
    ("cosine_distance", "cosine distance", 1.0, 3),
)


def pca_normals(points: np.ndarray, k: int) -> np.ndarray:
    """PCA normals of one cloud from its ``k`` nearest neighbours (open3d), unit length, unoriented.

    Shapes:
        points: (N, 3); returns (N, 3) float32
    """
    import open3d as o3d

    if k < 3:
        raise ValueError(f"pca_normals: k must be >= 3 (a plane needs 3 points), got {k}")
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=k))
    normals = np.asarray(cloud.normals, dtype=np.float32)  # (N, 3)
    if normals.shape != points.shape:
        raise RuntimeError(f"open3d returned {normals.shape[0]} normals for {points.shape[0]} points")
    return normals


def score_pca(batches, ks: tuple[int, ...], oriented: bool = False) -> dict[int, dict[str, float]]:
    """NormalError of PCA normals for each ``k`` over every cloud of ``batches`` (dicts with
    ``points`` and ``normals``, (B, N, 3) tensors, as the data modules serve them).

    Returns ``{k: {metric: value, "points": count, "seconds": PCA time}}``.
    """
    metrics = {k: NormalError(oriented=oriented) for k in ks}
    seconds = dict.fromkeys(ks, 0.0)
    for batch in batches:
        if "normals" not in batch:
            raise DataError("the test loader serves no 'normals': use a normals data module (NormalsDataModule)")
        points, truth = batch["points"].double(), batch["normals"]  # (B, N, 3)
        for k in ks:
            start = time.perf_counter()
            estimate = torch.from_numpy(np.stack([pca_normals(cloud.numpy(), k) for cloud in points]))  # (B, N, 3)
            seconds[k] += time.perf_counter() - start
            metrics[k].update(estimate, truth)
    scores = {}
    for k, metric in metrics.items():
        values = {name: float(value) for name, value in metric.compute().items()}
        scores[k] = {**values, "seconds": seconds[k]}
    return scores


def _runs_report(folder: Path) -> dict[str, Any]:
    """A compare-style report from a ``pointea-compare --runs`` folder (``<label>/seed<S>/result.json``),
    for runs whose comparison has not finished: only finished, ok runs count."""
    from pointea.training.compare_run import RESULT_FILE

    configs = []
    for config in sorted(p for p in folder.iterdir() if p.is_dir()):
        runs = [json.loads(r.read_text()) for r in sorted(config.glob(f"seed*/{RESULT_FILE}"))]
        runs = [run for run in runs if run.get("status") == "ok"]
        if runs:
            configs.append({"label": config.name, "summary": {"status": "ok"}, "runs": runs})
    if not configs:
        raise ConfigError(f"--compare {folder}: no finished run (<label>/seed<S>/{RESULT_FILE} with status ok)")
    return {"task": "normal_estimation", "seeds": sorted({r["seed"] for c in configs for r in c["runs"]}), "configs": configs}


def _network_rows(compare: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a ``pointea-compare`` report: per config and checkpoint, the spread over its seeds
    of every normal metric each run logged (no voting)."""
    from pointea.training.compare import spread

    if compare.get("task") != "normal_estimation":
        raise ConfigError(f"--compare: the report is of task {compare.get('task')!r}, expected 'normal_estimation'")
    rows = []
    for config in compare["configs"]:
        if config["summary"]["status"] != "ok":
            rows.append({"label": config["label"], "checkpoint": "-", "failed": config["summary"]["failed"]})
            continue
        for checkpoint in ("last", "best"):
            logged = [next(t for t in run["tests"][checkpoint] if t["votes"] == 1)["metrics"] for run in config["runs"]]
            stats = {name: spread([m[f"test/{name}"] for m in logged]) for name, *_ in METRICS}
            seeds = ",".join(str(run["seed"]) for run in config["runs"])
            rows.append({"label": config["label"], "checkpoint": checkpoint, "seeds": seeds, "stats": stats})
    return rows


def _cell(stats: dict[str, Any] | None, scale: float, digits: int) -> str:
    if stats is None:
        return "n/a"
    std = "n/a" if stats["std"] is None else f"{scale * stats['std']:.{digits}f}"
    return f"{scale * stats['mean']:.{digits}f} +- {std} ({scale * stats['min']:.{digits}f} / {scale * stats['max']:.{digits}f})"


def render_table(report: dict[str, Any]) -> str:
    """The markdown table: network rows (mean +- std (min / max) over seeds), then PCA rows."""
    header = "| method | checkpoint | seeds | " + " | ".join(label for _, label, *_ in METRICS) + " |"
    lines = [header, "|" + "---|" * (3 + len(METRICS))]
    for row in report.get("network", []):
        if "failed" in row:
            lines.append(f"| {row['label']} | failed | | " + " | ".join("failed" for _ in METRICS) + " |")
            continue
        cells = " | ".join(_cell(row["stats"].get(name), scale, digits) for name, _, scale, digits in METRICS)
        lines.append(f"| {row['label']} | {row['checkpoint']} | {row['seeds']} | {cells} |")
    for k, scores in report["pca"].items():
        cells = " | ".join(f"{scale * scores[name]:.{digits}f}" for name, _, scale, digits in METRICS)
        lines.append(f"| PCA k={k} (open3d) | - | - | {cells} |")
    return "\n".join(lines)


def _markdown(report: dict[str, Any]) -> str:
    orientation = "signed (1 - cos)" if report["oriented"] else "sign-free (1 - |cos|, angle of |cos|)"
    return "\n".join(
        [
            f"# {report['title']}",
            "",
            f"`{report['command']}`",
            "",
            f"Test clouds: {report['clouds']} clouds of {report['points_per_cloud']} points ({report['source']}), "
            f"the config's test loader after its evaluation transform. Scores: {orientation}, over every point "
            "(definitions in `pointea/training/normal_error.py`). Network rows: mean +- sample standard deviation "
            "over seeds (min / max), from the `pointea-compare` report given with `--compare`; PCA rows: one "
            f"deterministic pass. Machine: {report['machine']}; {report['date']}.",
            "",
            render_table(report),
            "",
            *(f"{note}\n" for note in report.get("notes", [])),
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointea-normals-pca",
        description="PCA normals (open3d, k nearest neighbours) on a config's test clouds, scored like the network.",
        epilog="Options it does not know (e.g. --data.init_args.root DIR) go to the config, as for `pointea test`.",
    )
    parser.add_argument("--config", required=True, help="the normal-estimation config whose test clouds to score")
    parser.add_argument("--k", default="10,20,30", help="comma-separated neighbour counts (default 10,20,30)")
    parser.add_argument("--oriented", action="store_true", help="signed scores (default: sign-free)")
    parser.add_argument("--compare", type=Path,
                        help="a pointea-compare JSON report of the network configs, or its --runs folder (finished runs)")  # fmt: skip
    parser.add_argument("--title", default="Normal estimation: network vs PCA normals")
    parser.add_argument("--note", action="append", default=[], help="a paragraph for the report, under the table (repeatable)")
    parser.add_argument("--out", type=Path, help="write <out>.md and <out>.json (default: print only)")
    return parser


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(word) for word in text.split(","))
    except ValueError:
        raise ConfigError(f"--k: expected comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 3:
        raise ConfigError(f"--k: every k must be >= 3, got {text!r}")
    return ks


def _test_loader(config: str, overrides: list[str]):
    """The config's data module, set up for test, and its test loader (no model is trained)."""
    from pointea.training.cli import load_config

    datamodule = load_config(config, overrides).datamodule
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule, datamodule.test_dataloader()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pointea-normals-pca``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args, overrides = build_parser().parse_known_args(argv)
    try:
        ks = _ks(args.k)
        if args.compare is None:
            network = []
        elif args.compare.is_dir():
            network = _network_rows(_runs_report(args.compare))
        else:
            network = _network_rows(json.loads(args.compare.read_text()))
        datamodule, loader = _test_loader(args.config, overrides)
        scores = score_pca(loader, ks, args.oriented)
    except (ConfigError, DataError, OSError, json.JSONDecodeError) as error:
        print(f"pointea-normals-pca: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    dataset = loader.dataset
    report = {
        "title": args.title,
        "command": shlex.join(["pointea-normals-pca", *argv]),
        "oriented": args.oriented,
        "source": getattr(datamodule, "source", None) or str(getattr(datamodule, "root", "")),
        "clouds": len(dataset),
        "points_per_cloud": int(dataset[0]["points"].shape[0]),
        "machine": f"{platform.node() or 'host'}, CPU ({os.cpu_count()} cores), torch {torch.__version__}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "pca": {str(k): v for k, v in scores.items()},
        "network": network,
        "notes": args.note,
    }
    print(render_table(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        markdown, data = args.out.with_suffix(".md"), args.out.with_suffix(".json")
        markdown.write_text(_markdown(report))
        data.write_text(json.dumps(report, indent=2) + "\n")
        print(f"pointea-normals-pca: wrote {markdown} and {data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
