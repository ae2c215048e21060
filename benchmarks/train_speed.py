"""Training speed of GPG, PGP and DualVAE: cells/s, epoch time and peak memory.

Synthetic sparse data of a chosen shape (default: PBMC-3k, 2,710 cells x 21,271 genes x
32,858 peaks), the reference presets (Table 3.2) or the small ones. Examples::

    python benchmarks/train_speed.py --epochs 3 --architectures gpg
    python benchmarks/train_speed.py --shape 1800,4000,6000 --preset small
    python benchmarks/train_speed.py --shape pbmc10k --device cuda --epochs 30
    python benchmarks/train_speed.py --epochs 3 --architectures gpg --split default

Streaming (``--stream 10000,50000,100000``): for each cell count, a child process writes a
synthetic prepared ``.h5mu`` of that many cells (``--shape``'s genes and peaks) in chunks, and a
fresh child per run trains from it with ``GPG.from_h5mu(path)`` (batches read from disk), so
its peak RSS (``ru_maxrss`` of that child) shows whether memory stays flat as cells grow;
``--stream-compare`` also trains each with ``GPG(mudata.read_h5mu(path))`` in memory::

    python benchmarks/train_speed.py --stream 10000,50000,100000 --shape 0,4000,6000 \
        --preset small --architectures gpg --epochs 1 --stream-compare

``--split none`` (default) trains on every cell without validation, the shape of the speed
targets; ``--split default`` uses the usual 70/10/20 split, so each epoch also scores the
validation cells (early stopping is switched off to run every epoch). The header names the
hardware: CPU capability and whether it has native bf16 (on an AVX2-only CPU ``auto`` keeps
float32, as bf16 matmuls there are emulated and ~500x slower), or the GPU's name.
``floor_30_epochs_s`` is what 30 epochs cannot beat on this device: each linear weight's
forward product and weight gradient for every cell, at the fastest matmul rate timed here.
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


#: cells generated and written at once by write_synthetic_h5mu (bounds its memory)
WRITE_CHUNK = 10_000
#: (density, count scale) of the synthetic RNA and ATAC counts, as in synthetic_mdata
DENSITY = {"rna": (0.08, 6.0), "atac": (0.05, 2.0)}


def _synthetic_tables(n_cells: int, n_genes: int, n_peaks: int, rng) -> dict:
    """obs / var of a prepared-looking MuData: labels, size factors, genomic coordinates."""
    barcodes = pd.Index([f"cell{i}" for i in range(n_cells)])
    labels = pd.Categorical(rng.integers(0, 8, n_cells).astype(str))
    chrom = lambda n: [f"chr{1 + i % 5}" for i in range(n)]  # noqa: E731
    start = lambda n: (np.arange(n) // 5) * 20_000 + 1_000  # noqa: E731
    genes = pd.DataFrame(
        {"chrom": chrom(n_genes), "start": start(n_genes), "strand": "+"},
        index=[f"gene{i}" for i in range(n_genes)],
    )
    genes["end"], genes["tss"] = genes["start"] + 5_000, genes["start"]
    genes["highly_variable"] = True
    peaks = pd.DataFrame({"chrom": chrom(n_peaks), "start": start(n_peaks) + 3_000})
    peaks["end"] = peaks["start"] + 500
    peaks.index = [f"{c}:{a}-{b}" for c, a, b in zip(peaks.chrom, peaks.start, peaks.end)]
    return {"cells": barcodes, "labels": labels, "rna": genes, "atac": peaks}


def _synthetic_counts(n_rows: int, n_cols: int, modality: str, rng) -> sp.csr_matrix:
    density, scale = DENSITY[modality]
    counts = sp.random(
        n_rows, n_cols, density=density, format="csr", dtype=np.float32, random_state=rng
    )
    counts.data = np.ceil(counts.data * scale)
    return counts


def write_synthetic_h5mu(path: str, n_cells: int, n_genes: int, n_peaks: int) -> None:
    """A prepared-looking ``.h5mu`` of this shape, written in chunks of ``WRITE_CHUNK`` cells.

    The obs / var tables go through mudata's writer; ``X`` (log1p) and ``layers['counts']``
    are appended chunk by chunk with anndata's ``write_elem`` and backed sparse ``append``,
    so writing 100k cells never holds more than one chunk's matrices.
    """
    import anndata as ad
    import h5py
    import mudata as md
    from anndata.io import sparse_dataset, write_elem

    rng = np.random.default_rng(0)
    tables = _synthetic_tables(n_cells, n_genes, n_peaks, rng)
    cells, labels = tables["cells"], tables["labels"]
    mods = {
        "rna": ad.AnnData(obs=pd.DataFrame({"leiden": labels}, index=cells), var=tables["rna"]),
        "atac": ad.AnnData(obs=pd.DataFrame(index=cells), var=tables["atac"]),
    }
    mdata = md.MuData(mods)
    mdata.obs["leiden"] = labels
    mdata.uns["genepeak"] = {"source": "benchmarks/train_speed.py (synthetic)"}
    mdata.write(path)
    widths = {"rna": n_genes, "atac": n_peaks}
    with h5py.File(path, "r+") as handle:
        for first in range(0, n_cells, WRITE_CHUNK):
            n_rows = min(WRITE_CHUNK, n_cells - first)
            for name, width in widths.items():
                counts = _synthetic_counts(n_rows, width, name, rng)
                values = counts.copy()
                values.data = np.log1p(values.data)
                group = handle[f"mod/{name}"]
                for parent, key, matrix in (
                    (group, "X", values),
                    (group["layers"], "counts", counts),
                ):
                    if first == 0:
                        write_elem(parent, key, matrix)
                    else:
                        sparse_dataset(parent[key]).append(matrix)


def train_from_file(path: str, arch: str, small: bool, epochs: int, threads, in_memory: bool):
    """Train one architecture on ``path`` through the Model API; return the measured row.

    Streamed: ``Model.from_h5mu(path)`` (batches read from the file); in memory:
    ``Model(mudata.read_h5mu(path))``. Then predicts peaks of up to 1,000 test cells.
    """
    import mudata

    from genepeak.config import preset
    from genepeak.models import MODEL_CLASSES

    model_config, train_config = preset(arch, small=small)
    options = dict(epochs=epochs, num_threads=threads, early_stopping_patience=None, device="cpu")
    cls = MODEL_CLASSES[arch]
    start = time.perf_counter()
    if in_memory:
        model = cls(mudata.read_h5mu(path), model_config, train_config, **options)
    else:
        model = cls.from_h5mu(path, model_config, train_config, **options)
    setup_s = time.perf_counter() - start
    model.train()
    seconds = model.history["seconds"].to_numpy()
    start = time.perf_counter()
    model.predict_peaks(cells=model.split["test"][:1000])
    return {
        "cells": len(model.mdata.obs_names),
        "data": "in memory" if in_memory else "streamed",
        "model": arch,
        "load_setup_s": round(setup_s, 1),
        "epoch_s": round(float(seconds.mean()), 1),
        "cells_per_s": round(len(model.split["train"]) / float(seconds.mean())),
        "predict_1k_s": round(time.perf_counter() - start, 2),
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
                        train_from_file, path, arch, small, args.epochs, args.threads, in_memory
                    )
                    rows.append({**row, "file_GiB": round(size, 2)})
                    print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
            os.remove(path)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


def matmul_floor_s(module, n_cells: int, batch_size: int, device, dtype) -> float:
    """Lower bound on one epoch's seconds: the dense matmul work at this device's best rate.

    Every ``nn.Linear`` weight costs at least 4 flops per cell and epoch (forward product and
    weight gradient; input gradients, the optimiser and everything elementwise come on top).
    The rate is the fastest of the layers' own products at the batch size, either way round.
    """
    import torch

    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    weights = sum(m.weight.numel() for m in layers)
    shapes = {(m.in_features, m.out_features) for m in layers}
    rate = max(
        matmul_rate(batch_size, k, n, device, dtype or torch.float32)
        for shape in shapes
        for k, n in (shape, shape[::-1])
    )
    return 4 * weights * n_cells / rate


def matmul_rate(m: int, k: int, n: int, device, dtype, seconds: float = 0.2) -> float:
    """Flops per second of an ``(m, k) @ (k, n)`` product, best of three timed runs."""
    import torch

    x = torch.randn(m, k, device=device, dtype=dtype)
    w = torch.randn(k, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x @ w  # warm-up
    best = 0.0
    for _ in range(3):
        repeats, start = 0, time.perf_counter()
        while repeats == 0 or time.perf_counter() - start < seconds:
            x @ w
            sync()
            repeats += 1
        best = max(best, 2 * m * k * n * repeats / (time.perf_counter() - start))
    return best


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
        batch = model.train_config.batch_size or n_train
        floor = matmul_floor_s(model.module, n_train, min(batch, n_train), device, dtype)
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
                "floor_30_epochs_s": round(30 * floor, 1),
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
