"""Figures of perturbation experiments: top sensitive peaks and dose-response curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genepeak.report.figures import save_figure  # noqa: E402

GAIN_COLOR = "#c0392b"  # closed -> open
LOSS_COLOR = "#2471a3"  # open -> closed


def plot_top_peaks(result, path: str | Path, top_k: int = 20):
    """Bars of the ``top_k`` peaks of the table: the posterior-mean shift of the prediction
    (``*`` marks FDR < 0.05 against the null genes) and, beside it, the change frequency over
    the Monte-Carlo passes, gains and losses in two colours, with the noise flip rate dashed.

    ``result`` is an ExplainResult (its ``table`` ranked, ``changes`` in the title).
    Returns the path written.
    """
    from matplotlib.patches import Patch

    top = result.table.head(top_k).iloc[::-1]
    fig, (ax_shift, ax) = plt.subplots(
        1,
        2,
        figsize=(9.5, 0.3 * len(top) + 1.8),
        sharey=True,
        gridspec_kw={"width_ratios": [2.2, 1.3]},
    )
    labels = [
        ("* " if q < 0.05 else "")
        + (f"{p}  ({g}, {d / 1000:+.0f} kb)" if d == d else f"{p}  ({g})")
        for p, g, d, q in zip(
            top["peak"], top["nearest_gene"], top["distance_to_tss"], top["fdr"].fillna(1.0)
        )
    ]
    y = range(len(top))
    shift_colors = [GAIN_COLOR if v > 0 else LOSS_COLOR for v in top["shift"]]
    ax_shift.barh(y, top["shift"], color=shift_colors)
    ax_shift.axvline(0, color="grey", lw=0.8)
    reach = float(np.nanmax(np.abs(top["shift"]))) if len(top) else 0.0
    ax_shift.set_xlim(-1.1 * reach - 1e-6, 1.1 * reach + 1e-6)
    ax_shift.set_yticks(y, labels, fontsize=7)
    ax_shift.set_xlabel("posterior-mean shift of predicted accessibility")
    ax_shift.legend(
        handles=[
            Patch(color=GAIN_COLOR, label="gain (opens)"),
            Patch(color=LOSS_COLOR, label="loss (closes)"),
        ],
        loc="lower left",
        fontsize=7,
        title="* FDR < 0.05 vs null genes",
        title_fontsize=6,
    )
    ax.barh(y, top["f_gain"], color=GAIN_COLOR)
    ax.barh(y, top["f_loss"], left=top["f_gain"], color=LOSS_COLOR)
    ax.set_xlim(0, 1)
    ax.axvline(result.noise_flip_rate, color="grey", ls="--", lw=1)
    ax.set_xlabel(f"change frequency over {result.n_passes} passes")
    if not (top["f_gain"] + top["f_loss"]).any():
        ax.text(
            0.5,
            0.5,
            "no peak shown crossed\nthe threshold in any pass",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=8,
            color="#555",
        )
    ax.set_title(
        f"state flips beyond {result.threshold:g} +- {result.margin:g}; "
        f"noise rate {result.noise_flip_rate:.3f} (dashed)",
        fontsize=7,
    )
    cells = result.cells[0] if len(result.cells) == 1 else f"{len(result.cells)} cells"
    fig.suptitle(f"{'; '.join(result.changes)}   {result.cell_type or ''} {cells}", fontsize=9)
    return save_figure(fig, path)


def plot_dose_response(result, path: str | Path, max_peaks: int = 10):
    """Response of the top peaks across the dose sweep: the mean predicted accessibility over
    the passes minus the unperturbed baseline (left) and the signed change frequency (right,
    gain +, loss -)."""
    dose = result.dose_response
    fig, (ax, ax_flip) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"wspace": 0.35})
    for peak in list(dict.fromkeys(dose["peak"]))[:max_peaks]:
        curve = dose[dose["peak"] == peak].sort_values("value")
        change = curve["mean_prediction"] - curve["baseline"]
        ax.plot(curve["value"], change, marker="o", ms=3, lw=1, label=peak)
        ax_flip.plot(curve["value"], curve["signed_frequency"], marker="o", ms=3, lw=1)
    for axis in (ax, ax_flip):
        axis.axhline(0, color="grey", lw=0.8)
        axis.axvline(result.before_values[0], color="grey", ls=":", lw=1, label="before")
        axis.axvline(result.values[0], color="black", ls="--", lw=1, label="perturbed to")
        axis.set_xlabel(f"{', '.join(result.genes)} value (log1p normalised)")
    ax.set_ylabel("change of predicted accessibility")
    ax_flip.set_ylabel("signed change frequency (gain +, loss -)")
    ax_flip.set_ylim(-1.05, 1.05)
    handles, names = ax.get_legend_handles_labels()
    ax_flip.legend(handles, names, fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(f"dose response: {'; '.join(result.changes)}", fontsize=9)
    return save_figure(fig, path)
