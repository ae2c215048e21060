"""A 2-process CPU DDP run (Lightning, gloo), from memory or streaming from a prepared file,
trains the same model as a single process in memory."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import genepeak
from genepeak.models import GPG

SETTINGS = dict(
    latent_dim=8,
    hidden=[32],
    epochs=3,
    lr=1e-2,
    batch_size=64,
    beta_max=0.01,
    beta_warmup_epochs=2,
    device="cpu",
    num_threads=1,
)

SCRIPT = """
import sys
from synthetic_mdata import make_prepared_mdata
from genepeak.models import GPG

if len(sys.argv) > 2:  # train from the prepared file: every process streams its own batches
    model = GPG.from_h5mu(sys.argv[2], devices=2, strategy="ddp", **{settings!r})
else:
    model = GPG(make_prepared_mdata(), devices=2, strategy="ddp", **{settings!r})
model.train(out_dir=sys.argv[1])
"""


@pytest.mark.parametrize("source", ["memory", "file"])
def test_two_process_ddp_matches_single_process(tmp_path, source):
    from synthetic_mdata import make_prepared_mdata

    script = tmp_path / "train_ddp.py"
    script.write_text(textwrap.dedent(SCRIPT.format(settings=SETTINGS)))
    extra = []
    if source == "file":
        make_prepared_mdata().write_h5mu(tmp_path / "prepared.h5mu")
        extra = [str(tmp_path / "prepared.h5mu")]
    env = {
        **os.environ,
        "GENEPEAK_QUIET": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ddp"), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "distributed_backend=gloo" in result.stdout + result.stderr

    mdata = make_prepared_mdata()
    single = GPG(mdata, **SETTINGS).train()
    ddp = genepeak.load(tmp_path / "ddp", mdata)
    assert len(ddp.history) == 3
    np.testing.assert_allclose(ddp.history["loss"], single.history["loss"], rtol=1e-5)
    for key, value in single.module.state_dict().items():
        torch.testing.assert_close(ddp.module.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ddp.predict_peaks(), single.predict_peaks(), rtol=1e-4, atol=1e-5)
