"""Training speed of GPG, PGP and DualVAE: cells/s, epoch time and peak memory.

Synthetic sparse data of a chosen shape (default: PBMC-3k, 2,710 cells x 21,271 genes x
32,858 peaks), the reference presets (Table 3.2) or the small ones. Examples::

    python benchmarks/train_speed.py --epochs 3 --architectures gpg
    python benchmarks/train_speed.py --shape 1800,4000,6000 --preset small
    python benchmarks/train_speed.py --shape pbmc10k --device cuda --epochs 30
    python benchmarks/train_speed.py --epochs 3 --architectures gpg --split default

Streaming (``--stream 10000,50000,100000``): for each cell count, a child process writes a
synthetic ``.h5mu`` of that many cells (``--shape``'s genes and peaks), and a fresh child trains
from it with ``CellData.from_h5mu`` (batches read from disk), so its peak RSS shows whether
memory stays flat as cells grow; ``--stream-compare`` also trains each in memory::

    python benchmarks/train_speed.py --stream 10000,50000,100000 --shape 0,4000,6000 \
        --preset small --architectures gpg --epochs 1 --stream-compare

``--split none`` (default) trains on every cell without validation, the shape of the speed
targets; ``--split default`` uses the usual 70/10/20 split, so each epoch also scores the
validation cells (early stopping is switched off to run every epoch). The header names the
hardware: CPU capability and whether it has native bf16 (on an AVX2-only CPU ``auto`` keeps
float32, as bf16 matmuls there are emulated and ~500x slower), or the GPU's name.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

os.environ.setdefault("GENEPEAK_QUIET", "1")

SHAPES = {
    "pbmc3k": (2710, 21271, 32858),
    "pbmc10k": (10150, 25545, 43788),
    "default": (1800, 4000, 6000),
}


def synthetic_mdata(n_cells: int, n_genes: int, n_peaks: int, seed: int = 0):
    """Sparse prepared-looking MuData: ~8% of genes and ~5% of peaks nonzero per cell."""
    import anndata as ad
    import mudata as md

    rng = np.random.default_rng(seed)

    def matrix(n_cols: int, density: float, scale: float) -> sp.csr_matrix:
        m = sp.random(
            n_cells, n_cols, density=density, format="csr", dtype=np.float32, random_state=rng
        )
        m.data = np.log1p(np.ceil(m.data * scale)).astype(np.float32)
        return m

    barcodes = [f"cell{i}" for i in range(n_cells)]
    labels = pd.Categorical(rng.integers(0, 8, n_cells).astype(str))
    rna = ad.AnnData(
        matrix(n_genes, 0.08, 6.0),
        obs=pd.DataFrame({"leiden": labels}, index=barcodes),
        var=pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)]),
    )
    atac = ad.AnnData(
        matrix(n_peaks, 0.05, 2.0),
        obs=pd.DataFrame(index=barcodes),
        var=pd.DataFrame(index=[f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(n_peaks)]),
    )
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["leiden"] = labels
    return mdata


def write_synthetic_h5mu(path: str, n_cells: int, n_genes: int, n_peaks: int) -> None:
    """``synthetic_mdata`` of this shape, written to ``path`` (run in a child process)."""
    synthetic_mdata(n_cells, n_genes, n_peaks).write(path)


def train_streamed(path: str, arch: str, small: bool, epochs: int, threads, in_memory: bool):
    """Train one architecture from ``path`` (streamed or loaded); return the measured row."""
    import h5py
    import torch

    from genepeak.config import preset
    from genepeak.models import MODEL_CLASSES
    from genepeak.train.data import CellData, _names
    from genepeak.train.loop import fit
    from genepeak.train.split import stratified_split

    model_config, train_config = preset(arch, small=small)
    train_config.epochs, train_config.num_threads = epochs, threads
    train_config.early_stopping_patience, train_config.device = None, "cpu"
    with h5py.File(path, "r") as handle:
        cells = _names(handle["mod/rna/obs"])
        genes, peaks = _names(handle["mod/rna/var"]), _names(handle["mod/atac/var"])
    split = stratified_split(cells, None, train_config.val_fraction, 0.0, train_config.seed)
    if in_memory:
        import mudata

        mdata = mudata.read_h5mu(path)
        rna, atac = mdata.mod["rna"], mdata.mod["atac"]

        def part(names):
            rows = rna.obs_names.get_indexer(names)
            return CellData(rna.X[rows], atac.X[rows])
    else:

        def part(names):
            return CellData.from_h5mu(path, names, genes, peaks)

    train, val = part(split["train"]), part(split["val"])
    module = MODEL_CLASSES[arch].module_class(len(genes), len(peaks), model_config)
    torch.manual_seed(0)
    start = time.perf_counter()
    history = fit(module, train, val, train_config)
    seconds = history["seconds"].to_numpy()
    return {
        "cells": len(cells),
        "data": "in memory" if in_memory else "streamed",
        "model": arch,
        "epoch_s": round(float(seconds.mean()), 2),
        "cells_per_s": round(len(train) / float(seconds.mean())),
        "total_s": round(time.perf_counter() - start, 1),
        "peak_rss_GiB": round(peak_memory_gib("cpu"), 2),
    }


def _child(queue, fn, *args) -> None:
    queue.put(fn(*args))


def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh process (its own peak RSS); return its result."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, fn, *args))
    process.start()
    result = queue.get()
    process.join()
    return result


def stream_benchmark(args, shape) -> None:
    """Peak RSS of streamed (and optionally in-memory) training as the cell count grows."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory(prefix="genepeak_stream_") as folder:
        for n_cells in (int(v) for v in args.stream.split(",")):
            path = os.path.join(folder, f"cells{n_cells}.h5mu")
            started = time.perf_counter()
            in_child(write_synthetic_h5mu, path, n_cells, shape[1], shape[2])
            size = os.path.getsize(path) / 2**30
            print(f"{n_cells} cells: wrote {size:.2f} GiB in {time.perf_counter() - started:.0f} s")
            for arch in args.architectures.split(","):
                modes = (False, True) if args.stream_compare else (False,)
                for in_memory in modes:
                    small = args.preset == "small"
                    row = in_child(
                        train_streamed, path, arch, small, args.epochs, args.threads, in_memory
                    )
                    rows.append({**row, "file_GiB": round(size, 2)})
                    print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
            os.remove(path)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


def peak_memory_gib(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def hardware_line(torch, device, native_bf16: bool) -> str:
    """Device, CPU capability or GPU name, and the 1-minute load average (timings are shared)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        where = (
            f"CPU {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
            f"native bf16: {'yes' if native_bf16 else 'no'}"
        )
    return f"{where}; load average {load:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", default="pbmc3k", help="pbmc3k, pbmc10k, default, or CELLS,GENES,PEAKS"
    )
    parser.add_argument("--architectures", default="gpg,pgp,dual")
    parser.add_argument("--preset", choices=("reference", "small"), default="reference")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--precision", choices=("auto", "32", "bf16"), default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--split", choices=("none", "default"), default="none")
    parser.add_argument("--stream", help="cell counts, e.g. 10000,50000,100000: stream from .h5mu")
    parser.add_argument("--stream-compare", action="store_true", help="also train in memory")
    args = parser.parse_args()

    import torch

    from genepeak.config import preset, to_dict
    from genepeak.models import MODEL_CLASSES
    from genepeak.train.loop import cpu_has_native_bf16, resolve_device, resolve_precision

    print(hardware_line(torch, resolve_device(args.device), cpu_has_native_bf16()))

    shape = SHAPES.get(args.shape) or tuple(int(v) for v in args.shape.split(","))
    if args.stream:
        stream_benchmark(args, shape)
        return
    start = time.perf_counter()
    mdata = synthetic_mdata(*shape)
    print(
        f"shape {shape[0]} cells x {shape[1]} genes x {shape[2]} peaks "
        f"(built in {time.perf_counter() - start:.1f} s); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads available"
    )
    rows = []
    for name in args.architectures.split(","):
        model_config, train_config = preset(name, small=args.preset == "small")
        overrides = dict(
            epochs=args.epochs,
            precision=args.precision,
            device=args.device,
            num_threads=args.threads,
            early_stopping_patience=None,
        )
        if args.split == "none":
            overrides.update(val_fraction=0.0, test_fraction=0.0)
        if args.batch_size:
            overrides["batch_size"] = args.batch_size
        model = MODEL_CLASSES[name](
            mdata, model_config=model_config, **{**to_dict(train_config), **overrides}
        )
        n_params = sum(p.numel() for p in model.module.parameters())
        device = resolve_device(args.device)
        dtype = resolve_precision(args.precision, device, model.module)
        start, cpu_start = time.perf_counter(), time.process_time()
        model.train()
        total, cpu_total = time.perf_counter() - start, time.process_time() - cpu_start
        seconds = model.history["seconds"].to_numpy()
        steady = seconds[1:].mean() if len(seconds) > 1 else seconds[0]
        n_train = len(model.split["train"])
        rows.append(
            {
                "model": name,
                "params_M": round(n_params / 1e6, 1),
                "precision": "bf16" if dtype is not None else "fp32",
                "threads": (args.threads or "auto") if device.type == "cpu" else "-",
                "epoch_s": round(float(steady), 2),
                "first_epoch_s": round(float(seconds[0]), 2),
                "cells_per_s": round(n_train / steady),
                "total_s": round(total, 1),
                "est_30_epochs_s": round(float(seconds[0]) + 29 * float(steady), 1),
                # CPU seconds per epoch: with one thread, a figure other processes' load
                # barely moves (wall time on a shared machine does)
                "cpu_s_per_epoch": round(cpu_total / len(seconds), 2),
                "peak_mem_GiB": round(peak_memory_gib(str(device)), 2),
                "final_loss": round(float(model.history["loss"].iloc[-1]), 4),
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
