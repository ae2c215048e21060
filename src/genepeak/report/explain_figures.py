"""Figures of perturbation experiments: top sensitive peaks and dose-response curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genepeak._utils import atomic_path  # noqa: E402

GAIN_COLOR = "#c0392b"  # closed -> open
LOSS_COLOR = "#2471a3"  # open -> closed


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight"
        )
    plt.close(fig)
    return Path(path)


def plot_top_peaks(result, path: str | Path, top_k: int = 20):
    """Bars of the ``top_k`` peaks: change frequency (gains and losses in two colours) and,
    beside it, the posterior-mean shift of the prediction.

    ``result`` is an ExplainResult (its ``table`` ranked, ``changes`` in the title).
    Returns the path written.
    """
    from matplotlib.patches import Patch

    top = result.table.head(top_k).iloc[::-1]
    fig, (ax, ax_shift) = plt.subplots(
        1,
        2,
        figsize=(9, 0.3 * len(top) + 1.6),
        sharey=True,
        gridspec_kw={"width_ratios": [3, 1.3]},
    )
    colors = [GAIN_COLOR if d == "gain" else LOSS_COLOR for d in top["direction"]]
    labels = [
        f"{p}  ({g}, {d / 1000:+.0f} kb)" if d == d else f"{p}  ({g})"
        for p, g, d in zip(top["peak"], top["nearest_gene"], top["distance_to_tss"])
    ]
    y = range(len(top))
    ax.barh(y, top["score"], color=colors)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(f"change frequency over {result.n_passes} passes")
    ax.set_xlim(0, 1)
    ax.axvline(result.noise_flip_rate, color="grey", ls="--", lw=1)
    ax.legend(
        handles=[
            Patch(color=GAIN_COLOR, label="gain (closed -> open)"),
            Patch(color=LOSS_COLOR, label="loss (open -> closed)"),
        ],
        loc="lower right",
        fontsize=7,
        title=f"dashed: noise flip rate {result.noise_flip_rate:.3f}",
        title_fontsize=6,
    )
    shift_colors = [GAIN_COLOR if v > 0 else LOSS_COLOR for v in top["shift"]]
    ax_shift.barh(y, top["shift"], color=shift_colors, alpha=0.6)
    ax_shift.axvline(0, color="grey", lw=0.8)
    reach = float(np.nanmax(np.abs(top["shift"]))) if len(top) else 0.0
    ax_shift.set_xlim(-1.1 * reach - 1e-6, 1.1 * reach + 1e-6)
    ax_shift.set_xlabel("posterior-mean shift")
    cells = result.cells[0] if len(result.cells) == 1 else f"{len(result.cells)} cells"
    fig.suptitle(
        f"{'; '.join(result.changes)}   {result.cell_type or ''} {cells}   "
        f"threshold {result.threshold:g} +- {result.margin:g}",
        fontsize=9,
    )
    return _save(fig, path)


def plot_dose_response(result, path: str | Path, max_peaks: int = 10):
    """Signed change frequency (gain +, loss -) of the top peaks across the dose sweep."""
    dose = result.dose_response
    fig, ax = plt.subplots(figsize=(6, 4))
    for peak in list(dict.fromkeys(dose["peak"]))[:max_peaks]:
        curve = dose[dose["peak"] == peak].sort_values("value")
        ax.plot(curve["value"], curve["signed_frequency"], marker="o", ms=3, lw=1, label=peak)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(result.before_values[0], color="grey", ls=":", lw=1, label="before")
    ax.axvline(result.values[0], color="black", ls="--", lw=1, label="perturbed to")
    ax.set_xlabel(f"{', '.join(result.genes)} value (log1p normalised)")
    ax.set_ylabel("signed change frequency (gain +, loss -)")
    ax.set_ylim(-1.05, 1.05)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(f"dose response: {'; '.join(result.changes)}", fontsize=9)
    return _save(fig, path)
