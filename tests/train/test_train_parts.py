"""Beta schedule, split and sparse batching."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from genepeak.train import loop
from genepeak.train.data import CellData, CSRTensor, RowSubset, batch_rows
from genepeak.train.schedule import beta_at
from genepeak.train.split import stratified_split


def test_beta_schedule_exact():
    values = [beta_at(e, 0.0, 0.1, 20) for e in range(25)]
    assert values[0] == 0.0
    assert values[10] == pytest.approx(0.05, abs=1e-15)
    assert values[19] == pytest.approx(0.095, abs=1e-15)
    assert values[20:] == [0.1] * 5
    assert np.allclose(np.diff(values[:21]), 0.005)
    assert beta_at(3, 0.2, 1.0, 4) == pytest.approx(0.8)
    assert beta_at(0, 0.0, 0.7, 0) == 0.7  # no warm-up


def test_split_stratified_seeded_and_disjoint():
    labels = np.repeat(["a", "b", "c"], [100, 50, 10])
    names = np.array([f"cell{i}" for i in range(160)])
    split = stratified_split(names, labels, 0.1, 0.2, seed=3)
    assert sum(len(v) for v in split.values()) == 160
    assert len(set(np.concatenate(list(split.values())))) == 160
    index = {n: i for i, n in enumerate(names)}
    test_labels = labels[[index[n] for n in split["test"]]]
    assert (test_labels == "a").sum() == 20 and (test_labels == "b").sum() == 10
    assert (test_labels == "c").sum() == 2
    assert len(split["val"]) == 10 + 5 + 1
    again = stratified_split(names, labels, 0.1, 0.2, seed=3)
    assert all(np.array_equal(split[k], again[k]) for k in split)
    other = stratified_split(names, labels, 0.1, 0.2, seed=4)
    assert not np.array_equal(split["test"], other["test"])


def test_split_tiny_classes_keep_a_training_cell():
    labels = np.array(["a"] * 20 + ["solo"] + ["pair"] * 2)
    names = np.array([f"c{i}" for i in range(23)])
    split = stratified_split(names, labels, 0.4, 0.5, seed=0)
    train = set(split["train"])
    assert "c20" in train and ({"c21", "c22"} & train)
    assert len(split["val"]) >= 1
    unstratified = stratified_split(names, None, 0.1, 0.2, seed=0)
    assert len(unstratified["test"]) == 5 and len(unstratified["val"]) == 2


def test_csr_rows_densify_exactly():
    rng = np.random.default_rng(0)
    matrix = sp.random(50, 30, density=0.2, format="csr", random_state=1, dtype=np.float32)
    tensor = CSRTensor(matrix)
    rows = torch.tensor(rng.permutation(50)[:17])
    dense = tensor.dense_rows(rows, "cpu")
    np.testing.assert_array_equal(dense.numpy(), matrix[rows.numpy()].toarray())
    np.testing.assert_allclose(
        tensor.row_sums().numpy(), np.asarray(matrix.sum(1)).ravel(), rtol=1e-6
    )


def test_cell_data_batches_and_library():
    genes = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    counts = sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]], dtype=np.float32))
    data = CellData(genes, genes, gene_counts=counts)
    batch = data.batch(torch.tensor([2, 0]))
    np.testing.assert_array_equal(batch.genes.numpy(), [[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_array_equal(batch.gene_library.numpy(), [2.0, 2.0])
    assert batch.peak_counts is None


def test_batch_rows_cover_every_cell_once():
    batches = batch_rows(10, 3, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in batches] == [3, 3, 4]  # a lone last cell joins the previous batch
    assert len(batch_rows(10, None, shuffle=False)) == 1


def test_device_gather_equals_scipy_and_never_reads_the_device():
    from torch._subclasses.fake_tensor import DynamicOutputShapeException, FakeTensorMode

    matrix = sp.random(60, 40, density=0.2, format="csr", random_state=2, dtype=np.float32)
    rows = np.array([5, 0, 59, 5, 17])
    tensor = CSRTensor(matrix)
    expected = matrix[rows].toarray()
    np.testing.assert_array_equal(tensor.dense_rows(torch.tensor(rows), "cpu").numpy(), expected)
    np.testing.assert_array_equal(tensor.gather_on_device(rows).numpy(), expected)
    # Under FakeTensorMode the arrays carry no values: any op that would read one back to the
    # host (a sync on a GPU: .item(), int(t), a data-dependent output size) raises
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = CSRTensor(matrix)
        fake.indptr, fake.indices, fake.data = (
            mode.from_tensor(t) for t in (tensor.indptr, tensor.indices, tensor.data)
        )
        assert fake.gather_on_device(rows).shape == (5, 40)
        lengths = mode.from_tensor(torch.tensor([1, 2]))
        with pytest.raises(DynamicOutputShapeException):
            torch.repeat_interleave(torch.arange(2), lengths)  # what the old gather did


def test_streamed_h5mu_batches_equal_in_memory_batches(tiny_mdata, tmp_path):
    from genepeak.train.data import BackedCSR

    path = tmp_path / "data.h5mu"
    tiny_mdata.write(path)
    rna, atac = tiny_mdata.mod["rna"], tiny_mdata.mod["atac"]
    cells = np.asarray(tiny_mdata.obs_names[::3])
    genes = np.asarray(rna.var_names[::-2])  # a subset, reordered
    rows = rna.obs_names.get_indexer(cells)
    gene_cols = rna.var_names.get_indexer(genes)
    memory = CellData(
        rna.X[rows][:, gene_cols],
        atac.X[rows],
        rna.layers["counts"][rows][:, gene_cols],
        atac.layers["counts"][rows],
    )
    streamed = CellData.from_h5mu(path, cells, genes, atac.var_names, counts=(True, True))
    assert isinstance(streamed.tensors["genes"], BackedCSR) and len(streamed) == len(cells)
    assert streamed.tensors["peaks"].cols is None  # every peak in file order: no selection
    pick = torch.tensor([7, 0, 33, 2])
    expected, got = memory.batch(pick), streamed.batch(pick)
    for key in ("genes", "peaks", "gene_counts", "peak_counts", "gene_library", "peak_library"):
        torch.testing.assert_close(getattr(got, key), getattr(expected, key), rtol=0, atol=0)


def test_training_from_a_streamed_h5mu_equals_training_in_memory(tiny_mdata, tmp_path):
    from genepeak.models import GPG
    from genepeak.train.loop import fit

    path = tmp_path / "data.h5mu"
    tiny_mdata.write(path)
    settings = dict(
        latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, epochs=3, atac_loss="bernoulli"
    )
    memory = GPG(tiny_mdata, **settings).train()
    model = GPG(tiny_mdata, **settings)
    split = model.split
    data = {
        part: CellData.from_h5mu(path, split[part], model.genes, model.peaks, counts=(False, True))
        for part in ("train", "val")
    }
    history = fit(model.module, data["train"], data["val"], model.train_config)
    np.testing.assert_array_equal(history["loss"], memory.history["loss"])
    for key, value in memory.module.state_dict().items():
        torch.testing.assert_close(model.module.state_dict()[key], value, rtol=0, atol=0)


def test_streamed_h5mu_names_what_is_missing(tiny_mdata, tmp_path):
    from genepeak.errors import InputError

    path = tmp_path / "data.h5mu"
    tiny_mdata.write(path)
    names = tiny_mdata.obs_names
    with pytest.raises(
        InputError, match=r"1 of 2 features are not in .*data.h5mu:mod/rna/var \(e.g. 'NOPE'\)"
    ):
        CellData.from_h5mu(path, names, ["GENE1", "NOPE"], tiny_mdata.mod["atac"].var_names)
    with pytest.raises(InputError, match=r"1 of 1 cells are not in .*data.h5mu:mod/rna/obs"):
        CellData.from_h5mu(path, ["ghost"], ["GENE1"], tiny_mdata.mod["atac"].var_names)


def test_cpu_times_reads_total_idle_and_cpu_count(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  100 5 20 300 10 1 2 3 7 0\n"
        "cpu0 50 2 10 150 5 0 1 1 3 0\n"
        "cpu1 50 3 10 150 5 1 1 2 4 0\n"
        "intr 12345\n"
    )
    assert loop.cpu_times(str(stat)) == (441, 310, 2)
    assert loop.cpu_times(str(tmp_path / "missing")) is None
    stat.write_text("cpu  not numbers\n")
    assert loop.cpu_times(str(stat)) is None


@pytest.mark.parametrize(
    ("busy", "load", "expected"),
    [
        (0.1, None, 4),  # an idle machine: every core, whatever this process did before
        (2.6, None, 1),  # others keep most cores busy: what is left, rounded
        (1.4, None, 3),
        (9.0, None, 1),  # oversubscribed: never below one thread
        (None, 2.0, 3),  # no /proc/stat: the load average, less this process
    ],
)
def test_idle_cores_counts_what_others_use_now(monkeypatch, busy, load, expected):
    monkeypatch.setattr(loop.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    monkeypatch.setattr(loop, "busy_cores", lambda seconds: busy)
    monkeypatch.setattr(loop.os, "getloadavg", lambda: (load, load, load))
    assert loop.idle_cores() == expected


def test_busy_cores_measures_this_machine():
    busy = loop.busy_cores(0.05)
    cores = loop.cpu_times()[2]
    assert busy is not None and 0.0 <= busy <= cores


def test_learning_rate_warm_up_ramps_then_restores_the_epoch_rate(monkeypatch):
    from genepeak.config import TrainConfig
    from genepeak.train.schedule import warmup_factor

    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0

    class _Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def loss(self, batch, beta, eps):
            return {"loss": (self.w * batch.genes).sum()}

    matrix = sp.csr_matrix(np.ones((10, 3), dtype=np.float32))
    data = CellData(matrix, matrix)
    module = _Module()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    used = []
    step = optimizer.step
    optimizer.step = lambda: (used.append(optimizer.param_groups[0]["lr"]), step())[1]
    config = TrainConfig(batch_size=4, lr=0.1, lr_warmup_steps=4)
    monkeypatch.setattr(loop, "step_noise", lambda *args: None)
    loop.train_epoch(module, optimizer, data, config, 0, 0.0, None)  # steps 0-2
    loop.train_epoch(module, optimizer, data, config, 1, 0.0, None)  # steps 3-5
    np.testing.assert_allclose(used, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    assert optimizer.param_groups[0]["lr"] == 0.1  # the epoch's rate is back


def test_a_row_subset_batches_like_a_copy_of_its_rows_and_leaves_the_matrix_as_it_was():
    rng = np.random.default_rng(0)
    matrix = sp.random(50, 30, density=0.3, format="csr", dtype=np.float32, random_state=1)
    # unsorted column indices within each row, as a reader may leave them
    for r in range(matrix.shape[0]):
        a, b = matrix.indptr[r], matrix.indptr[r + 1]
        order = rng.permutation(b - a)
        matrix.indices[a:b], matrix.data[a:b] = matrix.indices[a:b][order], matrix.data[a:b][order]
    matrix.has_sorted_indices = False
    before = (matrix.indices.copy(), matrix.data.copy())
    rows = np.array([7, 3, 40, 3, 12])
    view, copy = CSRTensor(RowSubset(matrix, rows)), CSRTensor(matrix[rows])
    assert view.shape == copy.shape == (5, 30)
    pick = torch.tensor([4, 0, 2])
    np.testing.assert_array_equal(view.dense_rows(pick, "cpu"), copy.dense_rows(pick, "cpu"))
    np.testing.assert_allclose(view.row_sums(), copy.row_sums())
    np.testing.assert_array_equal(matrix.indices, before[0])  # not sorted in place
    np.testing.assert_array_equal(matrix.data, before[1])
    sorted_matrix = matrix.sorted_indices()
    assert np.shares_memory(
        CSRTensor(RowSubset(sorted_matrix, rows)).data.numpy(), sorted_matrix.data
    )
